package guest

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
)

// deviceConnect is a usbredir device_connect payload for vendor:product.
func deviceConnect(class uint8, vendor, product uint16) []byte {
	p := make([]byte, 10)
	p[0], p[1] = 2, class // high speed
	binary.LittleEndian.PutUint16(p[4:], vendor)
	binary.LittleEndian.PutUint16(p[6:], product)
	return p
}

// waitDevices polls the bus until it holds n devices.
func waitDevices(t *testing.T, bus *USBBus, n int) []USBDevice {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := bus.Devices()
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("bus holds %+v, want %d devices", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startUSBRedir(t *testing.T, bus *USBBus) (net.Conn, chan error) {
	t.Helper()
	guestEnd, client := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeUSBRedir(context.Background(), guestEnd, bus) }()
	client.SetDeadline(time.Now().Add(waitTimeout))
	typ, payload, err := readPacket(client)
	if err != nil || typ != usbredirHello || !strings.HasPrefix(string(payload), usbredirVersion) {
		t.Fatalf("guest's first packet: type %d %q, %v; want its hello", typ, payload, err)
	}
	if err := writePacket(client, usbredirHello, 0, make([]byte, 68)); err != nil {
		t.Fatal(err)
	}
	return client, done
}

func TestUSBRedirAttachAndDetach(t *testing.T) {
	bus := &USBBus{}
	client, done := startUSBRedir(t, bus)
	if err := writePacket(client, usbredirDeviceConnect, 0, deviceConnect(8, 0x0781, 0x5567)); err != nil {
		t.Fatal(err)
	}
	d := waitDevices(t, bus, 1)[0]
	if d.Vendor != 0x0781 || d.Product != 0x5567 || d.Class != 8 || d.Address != 2 {
		t.Fatalf("attached %+v", d)
	}
	if got := lsusb(nil, bus); !strings.Contains(got, "Bus 001 Device 002: ID 0781:5567") {
		t.Fatalf("lsusb:\n%s", got)
	}
	if err := writePacket(client, usbredirDeviceDisconnect, 0, nil); err != nil {
		t.Fatal(err)
	}
	waitDevices(t, bus, 0)

	// A device still attached goes when the connection ends.
	if err := writePacket(client, usbredirDeviceConnect, 0, deviceConnect(3, 0x046d, 0xc52b)); err != nil {
		t.Fatal(err)
	}
	waitDevices(t, bus, 1)
	client.Close()
	if err := <-done; err != nil {
		t.Fatalf("session ended with %v, want nil for a hang-up", err)
	}
	waitDevices(t, bus, 0)
}

func TestUSBRedirSlotsAndProtocol(t *testing.T) {
	bus := &USBBus{}
	var clients []net.Conn
	for range USBSlots {
		c, _ := startUSBRedir(t, bus)
		clients = append(clients, c)
	}
	if err := ServeUSBRedir(context.Background(), nil, bus); err == nil || !strings.Contains(err.Error(), "slots") {
		t.Fatalf("a fifth session: %v, want all slots in use", err)
	}
	for _, c := range clients {
		c.Close()
	}

	guestEnd, client := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeUSBRedir(context.Background(), guestEnd, &USBBus{}) }()
	client.SetDeadline(time.Now().Add(waitTimeout))
	if _, _, err := readPacket(client); err != nil {
		t.Fatal(err)
	}
	if err := writePacket(client, usbredirDeviceConnect, 0, deviceConnect(8, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("a device_connect before the client's hello was accepted")
	}
}
