package guest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Screen is what a VNC client sees. Its size must not change during a
// session: RFB fixes it in ServerInit.
type Screen interface {
	Size() (w, h int)
	// Name is the desktop name shown in the client's title bar.
	Name() string
	// Render paints every pixel of the screen into dst, w*h*4 bytes in rows
	// from the top, each pixel B, G, R, unused: the 32bpp little-endian
	// true-colour format ServeVNC advertises.
	Render(dst []byte)
}

// RFB protocol constants (RFC 6143).
const (
	rfbVersion = "RFB 003.008\n"

	securityNone = 1

	msgSetPixelFormat           = 0
	msgSetEncodings             = 2
	msgFramebufferUpdateRequest = 3
	msgKeyEvent                 = 4
	msgPointerEvent             = 5
	msgClientCutText            = 6

	msgFramebufferUpdate = 0
	encodingRaw          = 0
)

// Clients ask for an incremental update as soon as the last one arrives.
// Answering at once with an unchanged frame would spin both ends, so such a
// request is held, polling the screen, until it changes or holdTimeout
// passes; then an update without rectangles keeps the client's loop alive.
const (
	pollInterval = 100 * time.Millisecond
	holdTimeout  = time.Second
)

// nativeFormat is the pixel format Screen.Render produces and ServerInit
// advertises, so a client that keeps it costs no conversion.
var nativeFormat = pixelFormat{
	bpp: 32, depth: 24, trueColour: 1,
	redMax: 255, greenMax: 255, blueMax: 255,
	redShift: 16, greenShift: 8, blueShift: 0,
}

// ServeVNC runs one RFB 3.8 session on rw showing screen: the version and
// security handshake (type None only, as the sandbox guards access
// elsewhere), ServerInit, then a Raw-encoded FramebufferUpdate for each
// FramebufferUpdateRequest. Input events and cut text are read and dropped:
// the simulated guest has nothing to drive with them. Clients speaking 3.3
// or 3.7 are served in their dialect. It returns nil when the client
// disconnects, ctx's error when ctx ends, and otherwise the protocol or I/O
// error that ended the session.
func ServeVNC(ctx context.Context, rw io.ReadWriter, screen Screen) error {
	return serveVNC(ctx, rw, screen, holdTimeout)
}

// serveVNC is ServeVNC with the hold time of incremental requests as a
// parameter, so tests need not wait for it.
func serveVNC(ctx context.Context, rw io.ReadWriter, screen Screen, hold time.Duration) error {
	defer interruptOnDone(ctx, rw)()
	w, h := screen.Size()
	if w <= 0 || h <= 0 || w > 0xffff || h > 0xffff {
		return fmt.Errorf("vnc: screen size %dx%d out of RFB's range", w, h)
	}
	s := &vncSession{
		br: bufio.NewReader(rw), bw: bufio.NewWriter(rw),
		screen: screen, w: w, h: h, pf: nativeFormat,
		frame: make([]byte, w*h*4), hold: hold,
	}
	err := s.handshake()
	if err == nil {
		err = s.serve(ctx)
	}
	return sessionResult(ctx, err)
}

// vncSession is one client's state. Writes go through bw unchecked: a
// bufio.Writer keeps its first error and the Flush ending each message
// reports it.
type vncSession struct {
	br     *bufio.Reader
	bw     *bufio.Writer
	screen Screen
	w, h   int
	pf     pixelFormat // what the client asked for
	frame  []byte      // the latest rendering, native format
	sent   []byte      // the frame last sent; nil before the first update
	hold   time.Duration
}

func (s *vncSession) handshake() error {
	s.bw.WriteString(rfbVersion)
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("vnc: sending protocol version: %w", err)
	}
	var v [12]byte
	if _, err := io.ReadFull(s.br, v[:]); err != nil {
		return fmt.Errorf("vnc: reading protocol version: %w", err)
	}
	minor, err := parseVersion(v[:])
	if err != nil {
		return err
	}

	// 3.3 has the server pick the security type; later versions offer a list.
	if minor == 3 {
		s.bw.Write(binary.BigEndian.AppendUint32(nil, securityNone))
	} else {
		s.bw.Write([]byte{1, securityNone})
		if err := s.bw.Flush(); err != nil {
			return fmt.Errorf("vnc: sending security types: %w", err)
		}
		choice, err := s.br.ReadByte()
		if err != nil {
			return fmt.Errorf("vnc: reading security type: %w", err)
		}
		if choice != securityNone {
			if minor >= 8 {
				reason := "only security type None is supported"
				b := binary.BigEndian.AppendUint32(nil, 1)
				b = binary.BigEndian.AppendUint32(b, uint32(len(reason)))
				s.bw.Write(append(b, reason...))
				s.bw.Flush()
			}
			return fmt.Errorf("vnc: client chose unsupported security type %d", choice)
		}
	}
	// Before 3.8, security type None has no SecurityResult.
	if minor >= 8 {
		s.bw.Write(binary.BigEndian.AppendUint32(nil, 0))
	}
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("vnc: sending security result: %w", err)
	}

	// ClientInit's shared flag is moot: every session has its own screen.
	if _, err := s.br.ReadByte(); err != nil {
		return fmt.Errorf("vnc: reading ClientInit: %w", err)
	}
	name := s.screen.Name()
	b := binary.BigEndian.AppendUint16(nil, uint16(s.w))
	b = binary.BigEndian.AppendUint16(b, uint16(s.h))
	b = nativeFormat.append(b)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	s.bw.Write(append(b, name...))
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("vnc: sending ServerInit: %w", err)
	}
	return nil
}

// parseVersion returns the minor version of a ProtocolVersion message the
// way RFC 6143 asks servers to read it: 3.7 and 3.8 as such, any other 3.x
// (such as Apple's 3.889) as 3.3, the handshake all clients can fall back to.
func parseVersion(v []byte) (int, error) {
	bad := fmt.Errorf("vnc: unsupported protocol version %q", v)
	if len(v) != 12 || string(v[:4]) != "RFB " || v[7] != '.' || v[11] != '\n' {
		return 0, bad
	}
	major, err1 := strconv.Atoi(string(v[4:7]))
	minor, err2 := strconv.Atoi(string(v[8:11]))
	if err1 != nil || err2 != nil || major != 3 {
		return 0, bad
	}
	if minor == 7 || minor == 8 {
		return minor, nil
	}
	return 3, nil
}

// serve answers client messages until the client leaves.
func (s *vncSession) serve(ctx context.Context) error {
	for {
		t, err := s.br.ReadByte()
		if err != nil {
			return fmt.Errorf("vnc: reading message type: %w", err)
		}
		switch t {
		case msgSetPixelFormat:
			var b [19]byte // 3 bytes padding, then the format
			if _, err := io.ReadFull(s.br, b[:]); err != nil {
				return fmt.Errorf("vnc: reading SetPixelFormat: %w", err)
			}
			pf := parsePixelFormat(b[3:])
			if err := pf.validate(); err != nil {
				return err
			}
			s.pf = pf
		case msgSetEncodings:
			// Raw is always allowed, and the only encoding sent, so the
			// client's preferences change nothing.
			var b [3]byte
			if _, err := io.ReadFull(s.br, b[:]); err != nil {
				return fmt.Errorf("vnc: reading SetEncodings: %w", err)
			}
			n := int64(binary.BigEndian.Uint16(b[1:])) * 4
			if _, err := io.CopyN(io.Discard, s.br, n); err != nil {
				return fmt.Errorf("vnc: reading SetEncodings: %w", err)
			}
		case msgFramebufferUpdateRequest:
			var b [9]byte
			if _, err := io.ReadFull(s.br, b[:]); err != nil {
				return fmt.Errorf("vnc: reading FramebufferUpdateRequest: %w", err)
			}
			r := rect{
				x: int(binary.BigEndian.Uint16(b[1:])), y: int(binary.BigEndian.Uint16(b[3:])),
				w: int(binary.BigEndian.Uint16(b[5:])), h: int(binary.BigEndian.Uint16(b[7:])),
			}
			if err := s.update(ctx, b[0] != 0, r); err != nil {
				return err
			}
		case msgKeyEvent, msgPointerEvent:
			n := 7 // down-flag, 2 bytes padding, keysym
			if t == msgPointerEvent {
				n = 5 // button mask, x, y
			}
			if _, err := io.CopyN(io.Discard, s.br, int64(n)); err != nil {
				return fmt.Errorf("vnc: reading input event: %w", err)
			}
		case msgClientCutText:
			var b [7]byte // 3 bytes padding, length
			if _, err := io.ReadFull(s.br, b[:]); err != nil {
				return fmt.Errorf("vnc: reading ClientCutText: %w", err)
			}
			n := int64(binary.BigEndian.Uint32(b[3:]))
			if _, err := io.CopyN(io.Discard, s.br, n); err != nil {
				return fmt.Errorf("vnc: reading ClientCutText: %w", err)
			}
		default:
			// Message lengths depend on the type, so there is no skipping it.
			return fmt.Errorf("vnc: unknown client message type %d", t)
		}
	}
}

type rect struct{ x, y, w, h int }

// clip returns the part of r inside a w×h screen.
func (r rect) clip(w, h int) rect {
	x0, y0 := min(r.x, w), min(r.y, h)
	x1, y1 := min(r.x+r.w, w), min(r.y+r.h, h)
	return rect{x0, y0, x1 - x0, y1 - y0}
}

// update answers one FramebufferUpdateRequest with the requested area in
// one Raw rectangle, or with no rectangle when an incremental request finds
// nothing changed.
func (s *vncSession) update(ctx context.Context, incremental bool, r rect) error {
	incremental = incremental && s.sent != nil
	if incremental {
		if err := s.awaitChange(ctx); err != nil {
			return err
		}
	} else {
		s.screen.Render(s.frame)
	}
	r = r.clip(s.w, s.h)
	if (incremental && bytes.Equal(s.frame, s.sent)) || r.w == 0 || r.h == 0 {
		s.bw.Write([]byte{msgFramebufferUpdate, 0, 0, 0})
		if err := s.bw.Flush(); err != nil {
			return fmt.Errorf("vnc: sending FramebufferUpdate: %w", err)
		}
		return nil
	}

	b := []byte{msgFramebufferUpdate, 0, 0, 1}
	for _, v := range []int{r.x, r.y, r.w, r.h} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	b = binary.BigEndian.AppendUint32(b, encodingRaw)
	s.bw.Write(b)
	row := make([]byte, r.w*int(s.pf.bpp/8))
	for y := r.y; y < r.y+r.h; y++ {
		src := s.frame[(y*s.w+r.x)*4 : (y*s.w+r.x+r.w)*4]
		if s.pf == nativeFormat {
			s.bw.Write(src)
			continue
		}
		s.pf.convert(row, src)
		s.bw.Write(row)
	}
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("vnc: sending FramebufferUpdate: %w", err)
	}
	s.sent = append(s.sent[:0], s.frame...)
	return nil
}

// awaitChange renders the screen into s.frame until it differs from the
// frame last sent or the hold time is up.
func (s *vncSession) awaitChange(ctx context.Context) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	timeout := time.NewTimer(s.hold)
	defer timeout.Stop()
	for {
		s.screen.Render(s.frame)
		if !bytes.Equal(s.frame, s.sent) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return nil
		case <-tick.C:
		}
	}
}

// pixelFormat is RFB's PIXEL_FORMAT.
type pixelFormat struct {
	bpp, depth, bigEndian, trueColour uint8
	redMax, greenMax, blueMax         uint16
	redShift, greenShift, blueShift   uint8
}

func parsePixelFormat(b []byte) pixelFormat {
	return pixelFormat{
		bpp: b[0], depth: b[1], bigEndian: b[2], trueColour: b[3],
		redMax:   binary.BigEndian.Uint16(b[4:]),
		greenMax: binary.BigEndian.Uint16(b[6:]),
		blueMax:  binary.BigEndian.Uint16(b[8:]),
		redShift: b[10], greenShift: b[11], blueShift: b[12],
	}
}

func (pf pixelFormat) append(b []byte) []byte {
	b = append(b, pf.bpp, pf.depth, pf.bigEndian, pf.trueColour)
	b = binary.BigEndian.AppendUint16(b, pf.redMax)
	b = binary.BigEndian.AppendUint16(b, pf.greenMax)
	b = binary.BigEndian.AppendUint16(b, pf.blueMax)
	return append(b, pf.redShift, pf.greenShift, pf.blueShift, 0, 0, 0)
}

// validate rejects the formats convert cannot produce. Colour-map formats
// would need SetColourMapEntries, which no current client relies on.
func (pf pixelFormat) validate() error {
	if pf.trueColour == 0 {
		return fmt.Errorf("vnc: colour-map pixel formats are not supported")
	}
	switch pf.bpp {
	case 8, 16, 32:
		return nil
	}
	return fmt.Errorf("vnc: invalid bits-per-pixel %d", pf.bpp)
}

// convert writes the native BGRX pixels of src into dst in format pf.
func (pf pixelFormat) convert(dst, src []byte) {
	size := int(pf.bpp / 8)
	var order binary.ByteOrder = binary.LittleEndian
	if pf.bigEndian != 0 {
		order = binary.BigEndian
	}
	scale := func(c byte, m uint16) uint32 { return uint32(c) * uint32(m) / 255 }
	for i := 0; i+3 < len(src); i += 4 {
		v := scale(src[i+2], pf.redMax)<<pf.redShift |
			scale(src[i+1], pf.greenMax)<<pf.greenShift |
			scale(src[i], pf.blueMax)<<pf.blueShift
		d := dst[i/4*size:]
		switch size {
		case 1:
			d[0] = byte(v)
		case 2:
			order.PutUint16(d, uint16(v))
		case 4:
			order.PutUint32(d, v)
		}
	}
}
