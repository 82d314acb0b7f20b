package guest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// rfbClient is the client side of RFB 3.8, just enough to test the server.
type rfbClient struct {
	t    *testing.T
	conn net.Conn
	init serverInit
}

type serverInit struct {
	w, h int
	pf   pixelFormat
	name string
}

type rawRect struct {
	x, y, w, h int
	encoding   int32
	pixels     []byte
}

func (c *rfbClient) read(n int) []byte {
	c.t.Helper()
	b := make([]byte, n)
	c.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := io.ReadFull(c.conn, b); err != nil {
		c.t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func (c *rfbClient) u16() int    { c.t.Helper(); return int(binary.BigEndian.Uint16(c.read(2))) }
func (c *rfbClient) u32() uint32 { c.t.Helper(); return binary.BigEndian.Uint32(c.read(4)) }

func (c *rfbClient) write(b ...byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("writing: %v", err)
	}
}

// handshake runs the client side up to ServerInit, checking each step.
func (c *rfbClient) handshake() {
	c.t.Helper()
	if v := string(c.read(12)); v != "RFB 003.008\n" {
		c.t.Fatalf("ProtocolVersion %q", v)
	}
	c.write([]byte("RFB 003.008\n")...)
	types := c.read(int(c.read(1)[0]))
	if !slices.Contains(types, securityNone) {
		c.t.Fatalf("security types %v lack None", types)
	}
	c.write(securityNone)
	if r := c.u32(); r != 0 {
		c.t.Fatalf("SecurityResult %d", r)
	}
	c.write(1) // ClientInit, shared
	c.init.w, c.init.h = c.u16(), c.u16()
	c.init.pf = parsePixelFormat(c.read(16))
	c.init.name = string(c.read(int(c.u32())))
}

func (c *rfbClient) requestUpdate(incremental bool, x, y, w, h int) {
	c.t.Helper()
	b := []byte{msgFramebufferUpdateRequest, 0}
	if incremental {
		b[1] = 1
	}
	for _, v := range []int{x, y, w, h} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	c.write(b...)
}

// readUpdate reads one FramebufferUpdate of Raw rectangles, bytesPerPixel
// bytes a pixel.
func (c *rfbClient) readUpdate(bytesPerPixel int) []rawRect {
	c.t.Helper()
	hdr := c.read(4)
	if hdr[0] != msgFramebufferUpdate {
		c.t.Fatalf("message type %d, want FramebufferUpdate", hdr[0])
	}
	rects := make([]rawRect, binary.BigEndian.Uint16(hdr[2:]))
	for i := range rects {
		r := &rects[i]
		r.x, r.y, r.w, r.h = c.u16(), c.u16(), c.u16(), c.u16()
		r.encoding = int32(c.u32())
		if r.encoding != encodingRaw {
			c.t.Fatalf("rectangle encoding %d, want Raw", r.encoding)
		}
		r.pixels = c.read(r.w * r.h * bytesPerPixel)
	}
	return rects
}

// startVNC runs a VNC session for screen and returns a client that has
// completed the handshake, and the channel ServeVNC's result arrives on.
func startVNC(t *testing.T, screen Screen, hold time.Duration) (*rfbClient, <-chan error) {
	t.Helper()
	guestEnd, clientEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveVNC(ctx, guestEnd, screen, hold) }()
	t.Cleanup(func() {
		cancel()
		clientEnd.Close()
		guestEnd.Close()
	})
	c := &rfbClient{t: t, conn: clientEnd}
	c.handshake()
	return c, done
}

// mutableLines is screen content a test can change under a running session.
type mutableLines struct {
	mu    sync.Mutex
	lines []string
}

func (m *mutableLines) get() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.lines)
}

func (m *mutableLines) set(lines ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lines = lines
}

func TestVNCHandshakeAndUpdate(t *testing.T) {
	text := &mutableLines{lines: []string{"Fedora Linux 41 (Cloud Edition)", "vm1 login:"}}
	c, done := startVNC(t, NewTextScreen(320, 200, text.get), holdTimeout)
	if c.init.w != 320 || c.init.h != 200 || c.init.name != "QEMU" {
		t.Errorf("ServerInit %dx%d %q, want 320x200 \"QEMU\"", c.init.w, c.init.h, c.init.name)
	}
	if c.init.pf != nativeFormat {
		t.Errorf("ServerInit pixel format %+v, want %+v", c.init.pf, nativeFormat)
	}

	// Messages the server must consume without losing its place.
	c.write(append([]byte{msgSetPixelFormat, 0, 0, 0}, nativeFormat.append(nil)...)...)
	c.write(msgSetEncodings, 0, 0, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21, 0xff, 0xff, 0xfe, 0xfc) // Raw, DesktopSize, Cursor
	c.write(msgKeyEvent, 1, 0, 0, 0, 0, 0xff, 0x0d)                                               // Return down
	c.write(msgPointerEvent, 1, 0, 10, 0, 20)
	c.write(msgClientCutText, 0, 0, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o')

	c.requestUpdate(false, 0, 0, 320, 200)
	rects := c.readUpdate(4)
	if len(rects) != 1 {
		t.Fatalf("got %d rectangles, want 1", len(rects))
	}
	r := rects[0]
	if r.x != 0 || r.y != 0 || r.w != 320 || r.h != 200 || len(r.pixels) != 320*200*4 {
		t.Fatalf("rectangle %d,%d %dx%d with %d bytes", r.x, r.y, r.w, r.h, len(r.pixels))
	}
	if !bytes.Contains(r.pixels, foreground[:]) {
		t.Error("frame shows no text")
	}
	if !bytes.Equal(r.pixels[:4], []byte{background[0], background[1], background[2], 0}) {
		t.Errorf("top-left pixel %v, want the background", r.pixels[:4])
	}

	// A changed screen answers an incremental request at once, with the
	// requested area only.
	text.set("[fedora@vm1 ~]$")
	c.requestUpdate(true, 0, 0, 100, 10)
	if rects := c.readUpdate(4); len(rects) != 1 || rects[0].w != 100 || rects[0].h != 10 {
		t.Fatalf("incremental update after a change: %+v", rects)
	}

	c.conn.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeVNC = %v, want nil after the client closed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("ServeVNC did not return after the client closed")
	}
}

func TestVNCIncrementalUnchangedIsHeld(t *testing.T) {
	const hold = 50 * time.Millisecond
	c, _ := startVNC(t, NewTextScreen(0, 0, func() []string { return []string{"still"} }), hold)
	c.requestUpdate(false, 0, 0, 320, 200)
	c.readUpdate(4)
	start := time.Now()
	c.requestUpdate(true, 0, 0, 320, 200)
	if rects := c.readUpdate(4); len(rects) != 0 {
		t.Errorf("unchanged screen sent %d rectangles", len(rects))
	}
	if waited := time.Since(start); waited < hold {
		t.Errorf("incremental request answered after %v, want it held %v", waited, hold)
	}
	// Areas beyond the screen are clipped.
	c.requestUpdate(false, 300, 190, 100, 100)
	if rects := c.readUpdate(4); len(rects) != 1 || rects[0].w != 20 || rects[0].h != 10 {
		t.Errorf("clipped update: %+v", rects)
	}
}

func TestVNCPixelFormatConversion(t *testing.T) {
	c, _ := startVNC(t, NewTextScreen(16, 16, nil), holdTimeout)
	rgb565 := pixelFormat{bpp: 16, depth: 16, bigEndian: 1, trueColour: 1,
		redMax: 31, greenMax: 63, blueMax: 31, redShift: 11, greenShift: 5}
	c.write(append([]byte{msgSetPixelFormat, 0, 0, 0}, rgb565.append(nil)...)...)
	c.requestUpdate(false, 0, 0, 16, 16)
	rects := c.readUpdate(2)
	if len(rects) != 1 || len(rects[0].pixels) != 16*16*2 {
		t.Fatalf("update: %+v", rects)
	}
	r, g, b := uint16(background[2])*31/255, uint16(background[1])*63/255, uint16(background[0])*31/255
	if got, want := binary.BigEndian.Uint16(rects[0].pixels), r<<11|g<<5|b; got != want {
		t.Errorf("background pixel %#04x, want %#04x", got, want)
	}
}

func TestVNCOlderClients(t *testing.T) {
	for _, tt := range []struct {
		version string
		minor   int
	}{{"RFB 003.003\n", 3}, {"RFB 003.007\n", 7}, {"RFB 003.889\n", 3}} {
		guestEnd, clientEnd := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- ServeVNC(context.Background(), guestEnd, NewTextScreen(8, 8, nil)) }()
		c := &rfbClient{t: t, conn: clientEnd}
		c.read(12)
		c.write([]byte(tt.version)...)
		if tt.minor == 3 {
			if sec := c.u32(); sec != securityNone {
				t.Errorf("%q: security type %d", tt.version, sec)
			}
		} else {
			if types := c.read(2); !bytes.Equal(types, []byte{1, securityNone}) {
				t.Errorf("%q: security types %v", tt.version, types)
			}
			c.write(securityNone)
		}
		c.write(0) // ClientInit; no SecurityResult before 3.8 for None
		if w, h := c.u16(), c.u16(); w != 8 || h != 8 {
			t.Errorf("%q: ServerInit %dx%d", tt.version, w, h)
		}
		clientEnd.Close()
		if err := <-done; err != nil {
			t.Errorf("%q: ServeVNC = %v", tt.version, err)
		}
		guestEnd.Close()
	}
}

func TestVNCRejects(t *testing.T) {
	t.Run("security type", func(t *testing.T) {
		guestEnd, clientEnd := net.Pipe()
		defer guestEnd.Close()
		defer clientEnd.Close()
		done := make(chan error, 1)
		go func() { done <- ServeVNC(context.Background(), guestEnd, NewTextScreen(8, 8, nil)) }()
		c := &rfbClient{t: t, conn: clientEnd}
		c.read(12)
		c.write([]byte(rfbVersion)...)
		c.read(2)
		c.write(2) // VNC authentication
		if r := c.u32(); r != 1 {
			t.Errorf("SecurityResult %d, want failed", r)
		}
		c.read(int(c.u32())) // reason
		if err := <-done; err == nil {
			t.Error("ServeVNC accepted security type 2")
		}
	})
	t.Run("unknown message", func(t *testing.T) {
		c, done := startVNC(t, NewTextScreen(8, 8, nil), holdTimeout)
		c.write(200)
		if err := <-done; err == nil || errors.Is(err, io.EOF) {
			t.Errorf("ServeVNC = %v, want an error for an unknown message", err)
		}
	})
}

func TestVNCContextEndsSession(t *testing.T) {
	guestEnd, clientEnd := net.Pipe()
	defer clientEnd.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeVNC(ctx, guestEnd, NewTextScreen(8, 8, nil)) }()
	c := &rfbClient{t: t, conn: clientEnd}
	c.handshake()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ServeVNC = %v, want context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("ServeVNC did not return after ctx ended")
	}
}

func TestTextScreen(t *testing.T) {
	for r := '!'; r <= '~'; r++ {
		if glyph(r) == ([glyphHeight]byte{}) {
			t.Errorf("no glyph for %q", r)
		}
	}

	s := NewTextScreen(0, 0, func() []string { return []string{"\tA", "a"} })
	if w, h := s.Size(); w != 320 || h != 200 {
		t.Fatalf("default size %dx%d", w, h)
	}
	frame := make([]byte, 320*200*4)
	s.Render(frame)
	lit := func(x, y int) bool { return frame[(y*320+x)*4] == foreground[0] }
	// The tab moves "A" to column 8; its top row is .###.
	x0, y0 := margin+8*cellWidth, margin
	for x, want := range []bool{false, true, true, true, false} {
		if lit(x0+x, y0) != want {
			t.Errorf("A top row pixel %d lit = %v, want %v", x, !want, want)
		}
	}
	for x := range cellWidth * 8 {
		if lit(margin+x, y0) {
			t.Errorf("pixel %d of the tab lit", x)
		}
	}
	// "a" on the second row; its top two rows are empty, the third .###.
	if lit(margin+1, margin+cellHeight) || !lit(margin+1, margin+cellHeight+2) {
		t.Error("a drawn wrongly")
	}
}
