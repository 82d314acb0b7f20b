package guest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// USBSlots is how many client USB redirection slots a guest has, as KubeVirt
// gives each VMI with clientPassthrough.
const USBSlots = 4

// USBDevice is a USB device attached to the guest.
type USBDevice struct {
	Bus, Address int
	Vendor       uint16
	Product      uint16
	Class        uint8
}

// USBBus is the guest's USB bus: the devices lent to it over usbredir. One
// bus lives as long as the VM instance, so the console's lsusb sees what a
// redirection session attached.
type USBBus struct {
	mu      sync.Mutex
	devices []USBDevice
	slots   int
	next    int
}

// Devices returns the attached devices in address order.
func (b *USBBus) Devices() []USBDevice {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.devices)
}

func (b *USBBus) claimSlot() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.slots >= USBSlots {
		return fmt.Errorf("all %d USB redirection slots are in use", USBSlots)
	}
	b.slots++
	return nil
}

func (b *USBBus) releaseSlot() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slots--
}

func (b *USBBus) attach(d USBDevice) USBDevice {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	d.Bus, d.Address = 1, b.next+1 // address 1 is the root hub
	b.devices = append(b.devices, d)
	return d
}

func (b *USBBus) detach(address int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.devices = slices.DeleteFunc(b.devices, func(d USBDevice) bool { return d.Address == address })
}

// lsusb lists the devices passed through from the host (bus 2) and lent
// over usbredir (bus 1), as lsusb does.
func lsusb(host []USBDevice, b *USBBus) string {
	var sb strings.Builder
	sb.WriteString("Bus 001 Device 001: ID 1d6b:0002 Linux Foundation 2.0 root hub\n")
	if len(host) > 0 {
		sb.WriteString("Bus 002 Device 001: ID 1d6b:0003 Linux Foundation 3.0 root hub\n")
	}
	for i, d := range host {
		fmt.Fprintf(&sb, "Bus 002 Device %03d: ID %04x:%04x\n", i+2, d.Vendor, d.Product)
	}
	if b == nil {
		return sb.String()
	}
	for _, d := range b.Devices() {
		fmt.Fprintf(&sb, "Bus %03d Device %03d: ID %04x:%04x\n", d.Bus, d.Address, d.Vendor, d.Product)
	}
	return sb.String()
}

// usbredir packet types (usbredirproto.h) the guest acts on.
const (
	usbredirHello            = 0
	usbredirDeviceConnect    = 1
	usbredirDeviceDisconnect = 2
)

// usbredirVersion is what the guest's hello says it is.
const usbredirVersion = "hypersdk-sandbox usb-redir guest 0.1"

// maxPacket bounds a packet's payload; bulk transfers are far smaller.
const maxPacket = 1 << 20

// ServeUSBRedir is the guest's end of a usbredir connection, QEMU's role: it
// sends its hello, then attaches the device the client announces with
// device_connect, and detaches it on device_disconnect or when the
// connection ends, as unplugging the cable would. Other packets are read
// and ignored: the simulated guest has no driver to talk to the device.
func ServeUSBRedir(ctx context.Context, rw io.ReadWriter, bus *USBBus) error {
	if err := bus.claimSlot(); err != nil {
		return err
	}
	defer bus.releaseSlot()
	defer interruptOnDone(ctx, rw)()
	hello := make([]byte, 64+4)
	copy(hello, usbredirVersion)
	if err := writePacket(rw, usbredirHello, 0, hello); err != nil {
		return sessionResult(ctx, err)
	}
	attached := 0
	defer func() {
		if attached != 0 {
			bus.detach(attached)
		}
	}()
	helloSeen := false
	for {
		typ, payload, err := readPacket(rw)
		if err != nil {
			return sessionResult(ctx, err)
		}
		switch {
		case typ == usbredirHello:
			helloSeen = true
		case !helloSeen:
			return errors.New("usbredir: the client spoke before its hello")
		case typ == usbredirDeviceConnect:
			if len(payload) < 10 {
				return fmt.Errorf("usbredir: device_connect of %d bytes, want at least 10", len(payload))
			}
			if attached != 0 {
				bus.detach(attached)
			}
			d := bus.attach(USBDevice{
				Class:   payload[1],
				Vendor:  binary.LittleEndian.Uint16(payload[4:6]),
				Product: binary.LittleEndian.Uint16(payload[6:8]),
			})
			attached = d.Address
		case typ == usbredirDeviceDisconnect:
			if attached != 0 {
				bus.detach(attached)
				attached = 0
			}
		}
	}
}

// writePacket writes a usbredir packet with a 32-bit id header.
func writePacket(w io.Writer, typ, id uint32, payload []byte) error {
	buf := make([]byte, 12+len(payload))
	binary.LittleEndian.PutUint32(buf[0:], typ)
	binary.LittleEndian.PutUint32(buf[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[8:], id)
	copy(buf[12:], payload)
	_, err := w.Write(buf)
	return err
}

// readPacket reads one usbredir packet (32-bit ids: the guest announces no
// 64-bit id capability).
func readPacket(r io.Reader) (typ uint32, payload []byte, err error) {
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	typ = binary.LittleEndian.Uint32(head[0:])
	n := binary.LittleEndian.Uint32(head[4:])
	if n > maxPacket {
		return 0, nil, fmt.Errorf("usbredir: packet type %d of %d bytes, more than %d", typ, n, maxPacket)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(r, payload)
	return typ, payload, err
}
