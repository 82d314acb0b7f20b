// Package consoleapi serves KubeVirt's console, VNC and USB redirection
// subresources (subresources.kubevirt.io/v1 virtualmachineinstances/console,
// /vnc and /usbredir) the way virt-api does: a WebSocket with the
// plain.kubevirt.io subprotocol whose binary messages carry the raw serial,
// RFB or usbredir bytes. The sandbox's guests sit
// behind it, so HyperSDK reaches them exactly as it reaches real KubeVirt.
package consoleapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/sandbox/guest"
)

const (
	// Group is KubeVirt's subresource API group.
	Group = "subresources.kubevirt.io"
	// Version served.
	Version = "v1"
	// Subprotocol is virt-api's plain byte-stream WebSocket protocol.
	Subprotocol = "plain.kubevirt.io"
)

// Guests finds the guest of a running VMI.
type Guests interface {
	// Guest returns live facts about a running VMI's guest, false when the
	// VMI does not run.
	Guest(namespace, name string) (func() guest.Info, bool)
}

// Install adds the subresources.kubevirt.io group to server. Requests pass
// through the server's authentication and authorization filters first, so
// a caller needs `get` on virtualmachineinstances/console (or /vnc).
func Install(server *genericapiserver.GenericAPIServer, guests Guests, clk clock.PassiveClock) {
	h := &handler{guests: guests, clock: clk}
	group := metav1.APIGroup{
		Name:             Group,
		Versions:         []metav1.GroupVersionForDiscovery{{GroupVersion: Group + "/" + Version, Version: Version}},
		PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: Group + "/" + Version, Version: Version},
	}
	server.DiscoveryGroupManager.AddGroup(group)
	mux := server.Handler.NonGoRestfulMux
	mux.Handle("/apis/"+Group, jsonHandler(group))
	mux.Handle("/apis/"+Group+"/"+Version, jsonHandler(metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: Group + "/" + Version,
		APIResources: []metav1.APIResource{
			{Name: "virtualmachineinstances/console", Namespaced: true, Kind: "VirtualMachineInstance", Verbs: []string{"get"}},
			{Name: "virtualmachineinstances/vnc", Namespaced: true, Kind: "VirtualMachineInstance", Verbs: []string{"get"}},
			{Name: "virtualmachineinstances/usbredir", Namespaced: true, Kind: "VirtualMachineInstance", Verbs: []string{"get"}},
		},
	}))
	mux.HandlePrefix("/apis/"+Group+"/"+Version+"/", h)
}

func jsonHandler(v interface{}) http.Handler {
	body, _ := json.Marshal(v)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

type handler struct {
	guests Guests
	clock  clock.PassiveClock
}

// ServeHTTP answers .../namespaces/{ns}/virtualmachineinstances/{name}/{console|vnc|usbredir}.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/apis/"+Group+"/"+Version+"/"), "/")
	if len(parts) != 5 || parts[0] != "namespaces" || parts[2] != "virtualmachineinstances" ||
		(parts[4] != "console" && parts[4] != "vnc" && parts[4] != "usbredir") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	ns, name, sub := parts[1], parts[3], parts[4]
	info, ok := h.guests.Guest(ns, name)
	if !ok {
		http.Error(w, fmt.Sprintf("VirtualMachineInstance %s/%s is not running", ns, name), http.StatusBadRequest)
		return
	}
	usb := info().USB
	if sub == "usbredir" && usb == nil {
		// virt-api refuses usbredir to a VMI without clientPassthrough.
		http.Error(w, fmt.Sprintf("VirtualMachineInstance %s/%s has no client USB redirection (clientPassthrough)", ns, name),
			http.StatusBadRequest)
		return
	}
	up := websocket.Upgrader{
		Subprotocols: []string{Subprotocol},
		// kube-apiserver proxies the request; the origin is the caller's.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade already answered
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stream := console.NewStream(conn)
	// The session ends when the VM stops, as a real serial line goes dead.
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, running := h.guests.Guest(ns, name); !running {
					cancel()
					_ = stream.Close()
					return
				}
			}
		}
	}()
	logger := klog.FromContext(ctx).WithValues("vmi", klog.KRef(ns, name), "subresource", sub)
	logger.V(2).Info("Guest session opened")
	switch sub {
	case "console":
		err = guest.Serve(ctx, stream, info, h.clock)
	case "usbredir":
		err = guest.ServeUSBRedir(ctx, stream, usb)
	default:
		err = guest.ServeVNC(ctx, stream, guest.NewTextScreen(0, 0, func() []string { return screenLines(info()) }))
	}
	logger.V(2).Info("Guest session closed", "err", err)
}

func screenLines(in guest.Info) []string {
	return []string{
		in.OS,
		"",
		in.Hostname + " login:",
		"",
		fmt.Sprintf("%d vCPU  %d MiB", in.CPUs, in.MemoryMiB),
	}
}
