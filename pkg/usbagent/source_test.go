package usbagent

import (
	"context"
	"net"
	"os"
	"path/filepath"
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

// TestUsbredirectNamesTheDeviceAsked: two security keys alike but for
// their serial: a request with a serial (or a class) gets the one device
// that matches, by bus and address, where usbredirect given vendor:product
// would open the first of them; a request with neither leaves the choice
// to usbredirect, and one nothing matches is refused.
func TestUsbredirectNamesTheDeviceAsked(t *testing.T) {
	root := t.TempDir()
	device := func(dir string, attrs map[string]string) {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range attrs {
			if err := os.WriteFile(filepath.Join(root, dir, name), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	key := func(serial, devnum string) map[string]string {
		return map[string]string{"idVendor": "1050", "idProduct": "0407", "serial": serial, "bDeviceClass": "00", "busnum": "1", "devnum": devnum}
	}
	device("1-1", key("A", "3"))
	device("1-2", key("B", "7"))
	device("1-2:1.0", map[string]string{"bInterfaceClass": "03"}) // B's HID interface
	u := Usbredirect{SysfsDevices: root}
	for _, tc := range []struct {
		name string
		d    hypersdk.USBDeviceRequest
		want string
	}{
		{"serial B", hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Serial: "B"}, "1-7"},
		{"serial A", hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Serial: "A"}, "1-3"},
		{"an interface's class", hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Class: "03"}, "1-7"},
		{"vendor and product alone", hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407"}, "1050:0407"},
		{"no such serial", hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Serial: "C"}, ""},
	} {
		got, err := u.deviceArg(tc.d)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
