package usbagent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// Source lends a device of the node to a guest over usbredir: it speaks the
// usbredir host side on stream until ctx ends (the device is unplugged) or
// the stream fails, calling attached once the guest has been offered the
// device.
type Source interface {
	Lend(ctx context.Context, stream io.ReadWriter, d hypersdk.USBDeviceRequest, attached func()) error
}

// Usbredirect lends real devices with usbredir's usbredirect tool (the
// client virtctl usbredir runs): it opens the device and connects to a
// local listener that is bridged to the guest's stream. A request with a
// class or serial names its device by bus and address, found in sysfs:
// usbredirect itself picks the first device of a vendor:product, which
// with two alike (two security keys) may be the other one.
type Usbredirect struct {
	// Path is the usbredirect binary.
	Path string
	// SysfsDevices lists the node's USB devices; /sys/bus/usb/devices when
	// empty.
	SysfsDevices string
	// ConnectTimeout bounds how long usbredirect may take to open the
	// device and connect.
	ConnectTimeout time.Duration
}

var _ Source = Usbredirect{}

// Lend runs usbredirect for d and bridges it to stream.
func (u Usbredirect) Lend(ctx context.Context, stream io.ReadWriter, d hypersdk.USBDeviceRequest, attached func()) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for usbredirect: %w", err)
	}
	defer ln.Close()
	device, err := u.deviceArg(d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.Path, "--device", device, "--to", ln.Addr().String())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", u.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timeout := u.ConnectTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	var conn net.Conn
	select {
	case conn = <-accepted:
	case err := <-exited:
		return fmt.Errorf("usbredirect --device %s exited before connecting: %v", kubevirt.USBID(d), err)
	case <-time.After(timeout):
		return fmt.Errorf("usbredirect --device %s did not connect in %s", kubevirt.USBID(d), timeout)
	case <-ctx.Done():
		return nil
	}
	defer conn.Close()
	attached()
	copied := make(chan error, 2)
	go func() { _, err := io.Copy(conn, stream); copied <- err }()
	go func() { _, err := io.Copy(stream, conn); copied <- err }()
	select {
	case <-ctx.Done():
		return nil // closing the connection makes usbredirect release the device
	case err := <-copied:
		return fmt.Errorf("redirection of %s ended: %v", kubevirt.USBID(d), err)
	case err := <-exited:
		return fmt.Errorf("usbredirect --device %s exited: %v", kubevirt.USBID(d), err)
	}
}

// Simulated lends devices that exist only in the node's labels, as the
// sandbox's nodes have them: it speaks the usbredir host side a device
// needs to appear in the guest (hello, device_connect) and unplugs it with
// device_disconnect. It carries no transfers.
type Simulated struct{}

var _ Source = Simulated{}

// usbredir packet types (usbredirproto.h) the simulated host sends.
const (
	usbredirHello            = 0
	usbredirDeviceConnect    = 1
	usbredirDeviceDisconnect = 2
)

// Lend announces d to the guest until ctx ends, then unplugs it.
func (Simulated) Lend(ctx context.Context, stream io.ReadWriter, d hypersdk.USBDeviceRequest, attached func()) error {
	// The guest's packets (its hello, transfers) are read and dropped from
	// the start, so neither side blocks writing its hello; a read error
	// ends the redirection.
	read := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, stream); read <- err }()
	hello := make([]byte, 64+4)
	copy(hello, "hypersdk-usb-agent simulated host")
	if err := writePacket(stream, usbredirHello, hello); err != nil {
		return fmt.Errorf("usbredir hello: %w", err)
	}
	connect, err := deviceConnect(d)
	if err != nil {
		return err
	}
	if err := writePacket(stream, usbredirDeviceConnect, connect); err != nil {
		return fmt.Errorf("usbredir device_connect: %w", err)
	}
	attached()
	select {
	case <-ctx.Done():
		if err := writePacket(stream, usbredirDeviceDisconnect, nil); err != nil {
			return fmt.Errorf("usbredir device_disconnect: %w", err)
		}
		return nil
	case err := <-read:
		if err == nil {
			err = io.EOF
		}
		return fmt.Errorf("the guest ended the redirection: %w", err)
	}
}

// deviceConnect is the device_connect payload: speed, class, subclass,
// protocol, vendor, product, device version.
func deviceConnect(d hypersdk.USBDeviceRequest) ([]byte, error) {
	vendor, err1 := strconv.ParseUint(d.Vendor, 16, 16)
	product, err2 := strconv.ParseUint(d.Product, 16, 16)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("device %s: %w", kubevirt.USBID(d), err)
	}
	var class uint64
	if d.Class != "" {
		if class, err1 = strconv.ParseUint(d.Class, 16, 8); err1 != nil {
			return nil, fmt.Errorf("device class %q: %w", d.Class, err1)
		}
	}
	p := make([]byte, 10)
	p[0] = 3 // usb_redir_speed_high
	p[1] = byte(class)
	binary.LittleEndian.PutUint16(p[4:], uint16(vendor))
	binary.LittleEndian.PutUint16(p[6:], uint16(product))
	return p, nil
}

// writePacket writes a usbredir packet with a 32-bit id header.
func writePacket(w io.Writer, typ uint32, payload []byte) error {
	buf := make([]byte, 12+len(payload))
	binary.LittleEndian.PutUint32(buf[0:], typ)
	binary.LittleEndian.PutUint32(buf[4:], uint32(len(payload)))
	copy(buf[12:], payload)
	_, err := w.Write(buf)
	return err
}

// deviceArg is how usbredirect is told d: vendor:product when that is all
// d asks for, else the bus and address (busnum-devnum) of the device in
// sysfs whose vendor, product, class (of the device or of one of its
// interfaces) and serial match.
func (u Usbredirect) deviceArg(d hypersdk.USBDeviceRequest) (string, error) {
	if d.Class == "" && d.Serial == "" {
		return kubevirt.USBID(d), nil
	}
	root := u.SysfsDevices
	if root == "" {
		root = "/sys/bus/usb/devices"
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", fmt.Errorf("listing USB devices: %w", err)
	}
	attr := func(dir, name string) string {
		b, _ := os.ReadFile(filepath.Join(root, dir, name))
		return strings.TrimSpace(string(b))
	}
	for _, e := range entries {
		dir := e.Name()
		if strings.Contains(dir, ":") || attr(dir, "idVendor") != d.Vendor || attr(dir, "idProduct") != d.Product {
			continue // an interface, or another device
		}
		if d.Serial != "" && attr(dir, "serial") != d.Serial {
			continue
		}
		if d.Class != "" && attr(dir, "bDeviceClass") != d.Class {
			interfaces, _ := filepath.Glob(filepath.Join(root, dir+":*", "bInterfaceClass"))
			if !slices.ContainsFunc(interfaces, func(f string) bool {
				b, _ := os.ReadFile(f)
				return strings.TrimSpace(string(b)) == d.Class
			}) {
				continue
			}
		}
		bus, dev := attr(dir, "busnum"), attr(dir, "devnum")
		if bus == "" || dev == "" {
			continue
		}
		return bus + "-" + dev, nil
	}
	return "", fmt.Errorf("no USB device %s (class %q, serial %q) on this node", kubevirt.USBID(d), d.Class, d.Serial)
}
