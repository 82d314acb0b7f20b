// Package guest is the simulated guest operating system of a simulated
// KubeVirt VM. No real VM can run in the sandbox, yet clients of the
// console and VNC subresources expect a machine on the other end: this
// package provides one per VM instance, as a line-oriented shell on a serial
// console (Serve, ServeLoggedIn) and as an RFB 3.8 server showing a text
// screen (ServeVNC, NewTextScreen). Both speak over a plain io.ReadWriter so
// they can sit behind a websocket, a net.Conn or a pipe.
package guest

import (
	"context"
	"errors"
	"io"
	"time"
)

// Info is what the guest knows about the machine it runs on. Serve takes it
// as a func and reads it again for every command, so a CPU or memory hotplug
// on the VM shows up in the next `nproc` without restarting the session.
type Info struct {
	Hostname  string
	CPUs      int
	MemoryMiB int64
	Boot      time.Time
	OS        string // pretty name, e.g. "Fedora Linux 41"
	// Panic, when set, is the kernel panic a guest whose disk is corrupt
	// stops at: the console shows it and never answers.
	Panic string
	// USB is the guest's USB bus, shared by its usbredir sessions and its
	// console; nil for a guest without USB redirection.
	USB *USBBus
	// HostUSB are the host USB devices passed through to the guest.
	HostUSB []USBDevice
}

// Defaults for the fields of Info a caller leaves empty, so the console
// never shows a blank hostname or a machine without a CPU.
const (
	defaultHostname = "localhost"
	defaultOS       = "Fedora Linux 41"
)

// normalized fills the zero fields of i with plausible values.
func (i Info) normalized() Info {
	if i.Hostname == "" {
		i.Hostname = defaultHostname
	}
	if i.OS == "" {
		i.OS = defaultOS
	}
	if i.CPUs < 1 {
		i.CPUs = 1
	}
	if i.MemoryMiB < 0 {
		i.MemoryMiB = 0
	}
	return i
}

// interruptOnDone makes a blocked Read or Write on rw return once ctx ends.
// An io.ReadWriter offers no way to interrupt a pending call, but the
// transports used in practice (net.Conn, net.Pipe) have deadlines; for any
// other the session only notices ctx at its next read. The deadline is left
// in the past on purpose: the session is over and so is the caller's use of
// rw. The returned func releases the watch.
func interruptOnDone(ctx context.Context, rw any) (stop func() bool) {
	d, ok := rw.(interface{ SetDeadline(time.Time) error })
	if !ok {
		return func() bool { return false }
	}
	return context.AfterFunc(ctx, func() { _ = d.SetDeadline(time.Unix(1, 0)) })
}

// sessionResult turns the error that ended a session into what callers care
// about: ctx's error when they ended it, nil when the peer hung up (the
// normal end of a console or VNC session), otherwise err itself.
func sessionResult(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrClosedPipe):
		return nil
	}
	return err
}
