package viewcache

import (
	"bytes"
	"io"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
)

// sentObject is what every watcher of one event receives: the stamped view,
// with the encodings the API server's watch handler made of it. It is a
// runtime.CacheableObject, so the handler encodes an event once per format
// and event type instead of once per watcher, as kube-apiserver's watch
// cache does for its own objects. The view's metadata is exposed by
// embedding, read-only like the view itself.
type sentObject struct {
	Object

	mu        sync.Mutex
	encodings map[runtime.Identifier]*encoding
}

type encoding struct {
	once sync.Once
	raw  []byte
	err  error
}

var _ runtime.CacheableObject = &sentObject{}

// CacheEncode writes the object as encode writes it, encoding it only the
// first time an encoder with this identifier asks.
func (s *sentObject) CacheEncode(id runtime.Identifier, encode func(runtime.Object, io.Writer) error, w io.Writer) error {
	s.mu.Lock()
	if s.encodings == nil {
		s.encodings = map[runtime.Identifier]*encoding{}
	}
	e := s.encodings[id]
	if e == nil {
		e = &encoding{}
		s.encodings[id] = e
	}
	s.mu.Unlock()
	e.once.Do(func() {
		var buf bytes.Buffer
		e.err = encode(s.Object, &buf)
		e.raw = buf.Bytes()
	})
	if e.err != nil {
		return e.err
	}
	_, err := w.Write(e.raw)
	return err
}

// GetObject returns a copy of the view, which the caller may change (the
// handler converts it to a Table for kubectl, for example).
func (s *sentObject) GetObject() runtime.Object { return s.Object.DeepCopyObject() }

// DeepCopyObject copies the view, without its encodings.
func (s *sentObject) DeepCopyObject() runtime.Object {
	return &sentObject{Object: s.Object.DeepCopyObject().(Object)}
}
