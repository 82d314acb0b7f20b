// Package console connects to a VM's serial console and VNC display. Its
// Dialer reaches KubeVirt's own console and VNC subresources
// (subresources.kubevirt.io, served by virt-api, or by the sandbox's
// simulator) through kube-apiserver, so HyperSDK has one code path for real
// and simulated clusters.
package console

import (
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// frameBuffer is the size of WebSocket read and write buffers (gorilla's
// default is 4 KiB): a full-screen VNC update is megabytes, and each
// buffer's worth is a frame and a TLS record on every hop.
const frameBuffer = 64 << 10

var (
	// writeBuffers lend write buffers to connections only while they write,
	// so idle consoles hold none.
	writeBuffers = &sync.Pool{}
	// copyBuffers hold the buffers pipe copies through.
	copyBuffers = sync.Pool{New: func() any { b := make([]byte, frameBuffer); return &b }}
)

// Stream is a WebSocket as an io.ReadWriteCloser: each Write is one binary
// message, Read returns message bytes in order across message boundaries.
type Stream struct {
	conn *websocket.Conn
	mu   sync.Mutex // one writer at a time, as gorilla requires
	cur  io.Reader
}

// NewStream wraps conn.
func NewStream(conn *websocket.Conn) *Stream { return &Stream{conn: conn} }

func (s *Stream) Read(p []byte) (int, error) {
	for {
		if s.cur == nil {
			typ, r, err := s.conn.NextReader()
			if err != nil {
				if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.BinaryMessage && typ != websocket.TextMessage {
				continue
			}
			s.cur = r
		}
		n, err := s.cur.Read(p)
		if err == io.EOF {
			s.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (s *Stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conn.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends a normal closure and closes the connection. It does not wait
// for a Write blocked on a peer that stopped reading (gorilla allows
// control messages and Close beside a writer): closing the connection is
// what ends that Write.
func (s *Stream) Close() error {
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	return s.conn.Close()
}
