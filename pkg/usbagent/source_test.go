package usbagent

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/sandbox/guest"
)

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSimulatedLend: the simulated source's usbredir host side makes the
// device appear on the guest's bus with its IDs and class, and unplugging
// (cancelling the lend) removes it while the guest's session goes on.
func TestSimulatedLend(t *testing.T) {
	bus := &guest.USBBus{}
	guestEnd, hostEnd := net.Pipe()
	defer guestEnd.Close()
	defer hostEnd.Close()
	served := make(chan error, 1)
	go func() { served <- guest.ServeUSBRedir(context.Background(), guestEnd, bus) }()

	ctx, unplug := context.WithCancel(context.Background())
	attached := make(chan struct{})
	lent := make(chan error, 1)
	stick := hypersdk.USBDeviceRequest{Name: "stick", Vendor: "0781", Product: "5581", Class: "08"}
	go func() { lent <- Simulated{}.Lend(ctx, hostEnd, stick, func() { close(attached) }) }()
	<-attached
	waitFor(t, "the stick on the guest's bus", func() bool { return len(bus.Devices()) == 1 })
	if d := bus.Devices()[0]; d.Vendor != 0x0781 || d.Product != 0x5581 || d.Class != 8 {
		t.Errorf("guest sees %+v, want 0781:5581 class 08", d)
	}

	unplug()
	if err := <-lent; err != nil {
		t.Errorf("unplugging: %v", err)
	}
	waitFor(t, "the stick gone from the guest's bus", func() bool { return len(bus.Devices()) == 0 })
	select {
	case err := <-served:
		t.Errorf("the guest's session ended on unplug: %v", err)
	default:
	}
}

// TestSimulatedLendGuestGone: when the guest's end goes away the lend
// returns an error saying so, rather than reporting the device attached
// for ever.
func TestSimulatedLendGuestGone(t *testing.T) {
	guestEnd, hostEnd := net.Pipe()
	go func() {
		buf := make([]byte, 64)
		guestEnd.Read(buf) // the hello's start, then hang up
		guestEnd.Close()
	}()
	err := Simulated{}.Lend(context.Background(), hostEnd, hypersdk.USBDeviceRequest{Name: "k", Vendor: "1050", Product: "0407"}, func() {})
	if err == nil {
		t.Fatal("lending to a guest that hung up succeeded")
	}
}

// TestDeviceConnect: the device_connect payload carries the IDs and class
// in usbredir's little-endian layout, and bad IDs are errors.
func TestDeviceConnect(t *testing.T) {
	p, err := deviceConnect(hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Class: "03"})
	if err != nil {
		t.Fatal(err)
	}
	if p[1] != 3 || p[4] != 0x50 || p[5] != 0x10 || p[6] != 0x07 || p[7] != 0x04 {
		t.Errorf("payload % x", p)
	}
	if _, err := deviceConnect(hypersdk.USBDeviceRequest{Vendor: "zz", Product: "0407"}); err == nil {
		t.Error("a non-hexadecimal vendor was accepted")
	}
}
