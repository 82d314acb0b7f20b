package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/websocket"

	"github.com/hypersdk/hypersdk/pkg/console"
)

// detachKey ends a console session: Ctrl-], as telnet and virtctl have it.
const detachKey = 0x1d

func newConsoleCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "console NAME",
		Short: "Attach to a VM's serial console (Ctrl-] detaches)",
		Long: `Attach the terminal to a VM's serial console through virtualmachines/console,
with client-go's remote-command protocol (WebSocket, falling back to SPDY).
On a terminal, input is raw and window size changes are forwarded; Ctrl-]
detaches and gives the terminal back as it was.`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			cfg, err := e.flags.ToRESTConfig()
			if err != nil {
				return err
			}
			u := vmSubresource(c, ns, args[0], "console").Param("stdin", "true").Param("stdout", "true").Param("tty", "true").URL()
			ws, err := remotecommand.NewWebSocketExecutor(cfg, http.MethodGet, u.String())
			if err != nil {
				return err
			}
			spdy, err := remotecommand.NewSPDYExecutor(cfg, http.MethodGet, u)
			if err != nil {
				return err
			}
			exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
				return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
			})
			if err != nil {
				return err
			}
			ctx, detach := context.WithCancel(cmd.Context())
			defer detach()
			opts := remotecommand.StreamOptions{Stdin: &detachReader{r: e.streams.In, detach: detach}, Stdout: e.streams.Out, Tty: true}
			if in, ok := e.streams.In.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
				state, err := term.MakeRaw(int(in.Fd()))
				if err != nil {
					return fmt.Errorf("raw terminal: %w", err)
				}
				defer term.Restore(int(in.Fd()), state)
				opts.TerminalSizeQueue = newSizeQueue(ctx, in)
			}
			fmt.Fprintf(e.streams.ErrOut, "Connected to %s/%s; Ctrl-] detaches.\r\n", ns, args[0])
			err = exec.StreamWithContext(ctx, opts)
			if ctx.Err() != nil && cmd.Context().Err() == nil {
				fmt.Fprintf(e.streams.ErrOut, "\r\nDetached.\r\n")
				return nil
			}
			return err
		},
	}
}

// detachReader passes input on until the detach key, then ends the session.
type detachReader struct {
	r      io.Reader
	detach context.CancelFunc
}

func (d *detachReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == detachKey {
			d.detach()
			return i, io.EOF
		}
	}
	return n, err
}

// sizeQueue reports the terminal's size at start and after every change.
type sizeQueue struct {
	sizes chan remotecommand.TerminalSize
}

func newSizeQueue(ctx context.Context, f *os.File) *sizeQueue {
	q := &sizeQueue{sizes: make(chan remotecommand.TerminalSize, 1)}
	var last remotecommand.TerminalSize
	send := func() {
		w, h, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return
		}
		size := remotecommand.TerminalSize{Width: uint16(w), Height: uint16(h)}
		if size == last {
			return
		}
		last = size
		for {
			select {
			case q.sizes <- size:
				return
			default: // a size not yet taken is stale now: replace it
				select {
				case <-q.sizes:
				default:
				}
			}
		}
	}
	send()
	changes := sizeChanges(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				close(q.sizes)
				return
			case <-changes:
				send()
			}
		}
	}()
	return q
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q.sizes
	if !ok {
		return nil
	}
	return &s
}

func newVNCCommand(e *env) *cobra.Command {
	var address string
	cmd := &cobra.Command{
		Use:   "vnc NAME",
		Short: "Serve a VM's display on a local port for a VNC viewer",
		Long: `Listen on a local address and bridge each VNC viewer that connects to the
VM's virtualmachines/vnc (RFB over a WebSocket, with your credentials).
Prints the address; runs until interrupted.`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listenAndBridge(cmd, e, args[0], "vnc", "VNC", address)
		},
	}
	cmd.Flags().StringVar(&address, "address", "127.0.0.1:5900", "Local address to listen on (port 0 picks a free one).")
	return cmd
}

// listenAndBridge serves a VM's streaming subresource on a local address:
// each local connection gets its own session, opened with the user's
// credentials. It checks one session opens before listening, so that what
// would fail for every client (no such VM, no rights) fails at once.
func listenAndBridge(cmd *cobra.Command, e *env, name, subresource, what, address string) error {
	ns, c, err := e.clientIn()
	if err != nil {
		return err
	}
	cfg, err := e.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	u := vmSubresource(c, ns, name, subresource).URL()
	rt, holder, err := websocket.RoundTripperFor(cfg)
	if err != nil {
		return err
	}
	dial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		conn, err := websocket.Negotiate(rt, holder, req, "binary")
		if err != nil {
			return nil, fmt.Errorf("connecting to %s/%s's %s: %w", ns, name, subresource, err)
		}
		return console.NewStream(conn), nil
	}
	probe, err := dial(cmd.Context())
	if err != nil {
		return err
	}
	probe.Close()
	l, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Fprintf(e.streams.Out, "%s of %s/%s on %s\n", what, ns, name, l.Addr())
	ctx := cmd.Context()
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		client, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go bridge(ctx, e, client, dial)
	}
}

// bridge copies between a local viewer and the VM's display until either ends.
func bridge(ctx context.Context, e *env, viewer net.Conn, dial func(context.Context) (io.ReadWriteCloser, error)) {
	defer viewer.Close()
	display, err := dial(ctx)
	if err != nil {
		fmt.Fprintln(e.streams.ErrOut, errorLine(err))
		return
	}
	defer display.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(display, viewer); done <- struct{}{} }()
	go func() { io.Copy(viewer, display); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
