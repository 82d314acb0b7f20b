package hostnode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Pod addresses must be ones EndpointSlices accept (no loopback), yet local
// to this machine, with no interface per pod. A route of type local for the
// whole pod CIDR in the local table makes every address in it this
// machine's own ("AnyIP", as `ip route add local <cidr> dev lo`), so a pod
// binds its address and everything here reaches it.

// addLocalRoute adds that route and returns a function that removes it.
func addLocalRoute(prefix netip.Prefix) (func() error, error) {
	if !prefix.Addr().Is4() {
		return nil, fmt.Errorf("pod CIDR %s: only IPv4 is supported", prefix)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return nil, err
	}
	err = routeRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, prefix, lo.Index)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("routing %s to this machine (needs CAP_NET_ADMIN): %w", prefix, err)
	}
	return func() error { return routeRequest(unix.RTM_DELROUTE, 0, prefix, lo.Index) }, nil
}

// routeRequest sends one rtnetlink route message and waits for its ack.
func routeRequest(typ uint16, flags uint16, prefix netip.Prefix, ifindex int) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	dst := prefix.Masked().Addr().As4()
	attr := func(t uint16, data []byte) []byte {
		b := make([]byte, (unix.SizeofRtAttr+len(data)+3)&^3)
		binary.NativeEndian.PutUint16(b[0:], uint16(unix.SizeofRtAttr+len(data)))
		binary.NativeEndian.PutUint16(b[2:], t)
		copy(b[unix.SizeofRtAttr:], data)
		return b
	}
	u32 := func(v uint32) []byte { b := make([]byte, 4); binary.NativeEndian.PutUint32(b, v); return b }
	rt := []byte{unix.AF_INET, byte(prefix.Bits()), 0, 0, unix.RT_TABLE_LOCAL, unix.RTPROT_BOOT, unix.RT_SCOPE_HOST, unix.RTN_LOCAL, 0, 0, 0, 0}
	body := append(rt, attr(unix.RTA_DST, dst[:])...)
	body = append(body, attr(unix.RTA_OIF, u32(uint32(ifindex)))...)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	binary.NativeEndian.PutUint32(msg[8:], 1)
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	// The answer is one NLMSG_ERROR: a header, then the error code (0 for
	// success) and the request's header.
	if n < unix.SizeofNlMsghdr+4 || binary.NativeEndian.Uint16(buf[4:]) != unix.NLMSG_ERROR {
		return errors.New("no acknowledgement from rtnetlink")
	}
	if errno := int32(binary.NativeEndian.Uint32(buf[unix.SizeofNlMsghdr:])); errno != 0 {
		return unix.Errno(-errno)
	}
	return nil
}
