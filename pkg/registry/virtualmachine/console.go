package virtualmachine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/console"
)

// ConsoleREST serves virtualmachines/console, virtualmachines/vnc and
// virtualmachines/usbredir: a streaming connection to the guest, authorized
// by kube-apiserver as `get` on the subresource, then dialed through
// KubeVirt with HyperSDK's identity.
type ConsoleREST struct {
	vms    *REST
	bridge *console.Bridge
	kind   console.Kind

	mu      sync.Mutex
	viewers map[string]*viewers // by namespace/name, for vnc
}

type viewers struct {
	count     int
	exclusive bool
}

var (
	_ rest.Connecter = &ConsoleREST{}
	_ rest.Storage   = &ConsoleREST{}
)

// NewConsoleREST returns the storage of one streaming subresource.
func NewConsoleREST(vms *REST, bridge *console.Bridge, kind console.Kind) *ConsoleREST {
	return &ConsoleREST{vms: vms, bridge: bridge, kind: kind, viewers: map[string]*viewers{}}
}

// New returns the options kind.
func (r *ConsoleREST) New() runtime.Object { return &hypersdk.VirtualMachineConsoleOptions{} }

// Destroy releases nothing.
func (r *ConsoleREST) Destroy() {}

// ConnectMethods: GET, as for KubeVirt's console and kubectl attach by WebSocket.
func (r *ConsoleREST) ConnectMethods() []string { return []string{http.MethodGet} }

// NewConnectOptions decodes the query into VirtualMachineConsoleOptions.
func (r *ConsoleREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &hypersdk.VirtualMachineConsoleOptions{}, false, ""
}

// Connect checks that the VM runs and hands the connection to the bridge.
func (r *ConsoleREST) Connect(ctx context.Context, name string, options runtime.Object, _ rest.Responder) (http.Handler, error) {
	opts := options.(*hypersdk.VirtualMachineConsoleOptions)
	if err := r.vms.unsynced(); err != nil {
		return nil, err
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	obj, err := r.vms.lookup(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	vm := obj.(*hypersdk.VirtualMachine)
	if vm.Status.Phase != hypersdk.VirtualMachineRunning && vm.Status.Phase != hypersdk.VirtualMachineMigrating {
		return nil, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), name,
			fmt.Errorf("VM is %s: only a running VM has a %s", vm.Status.Phase, r.kind))
	}
	if r.kind == console.USBRedir && !vm.Spec.USBRedirection {
		return nil, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), name,
			errors.New("spec.usbRedirection is false: the guest has no USB redirection slots"))
	}
	if opts.Protocol != "" && opts.Protocol != console.PlainProtocol {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("protocol %q: only %q or empty", opts.Protocol, console.PlainProtocol))
	}
	release := func() {}
	if r.kind == console.VNC {
		var err error
		if release, err = r.acquire(ns+"/"+name, opts.Shared == nil || *opts.Shared); err != nil {
			return nil, err
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer release()
		r.bridge.Serve(w, req, ns, name, r.kind, opts.Protocol == console.PlainProtocol)
	}), nil
}

// acquire registers a VNC viewer; an exclusive one needs the display alone.
func (r *ConsoleREST) acquire(key string, shared bool) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.viewers[key]
	if v == nil {
		v = &viewers{}
		r.viewers[key] = v
	}
	if v.exclusive || (!shared && v.count > 0) {
		return nil, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), key,
			fmt.Errorf("the display is held exclusively or watched by others; shared=false needs it alone"))
	}
	v.count++
	v.exclusive = !shared
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		v.count--
		if v.count == 0 {
			delete(r.viewers, key)
		} else if !shared {
			v.exclusive = false
		}
	}, nil
}
