package hostnode

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/klog/v2"
)

var everything = labels.Everything()

// addresses hands out pod addresses from a prefix.
type addresses struct {
	mu     sync.Mutex
	prefix netip.Prefix
	used   map[netip.Addr]bool
}

func newAddresses(p netip.Prefix) *addresses {
	return &addresses{prefix: p, used: map[netip.Addr]bool{}}
}

func (a *addresses) take() (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// .0 and .1 of the prefix stay free, as network and gateway would be.
	for ip := a.prefix.Addr().Next().Next(); a.prefix.Contains(ip); ip = ip.Next() {
		if !a.used[ip] {
			a.used[ip] = true
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address in %s", a.prefix)
}

func (a *addresses) release(ip netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, ip)
}

// proxy forwards each Service's ClusterIP and port to its ready pods, as
// kube-proxy's userspace mode did (endpoints are read from the pods, whose
// readiness this node decides).
type proxy struct {
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	apiServer string

	mu        sync.Mutex
	listeners map[string]*serviceListener // by ClusterIP:port
}

type serviceListener struct {
	ln   net.Listener
	next atomic.Uint64
	// endpoints returns the addresses to forward to, ready ones only.
	endpoints atomic.Pointer[[]string]
}

func newProxy(services corelisters.ServiceLister, pods corelisters.PodLister, apiServer string) *proxy {
	return &proxy{services: services, pods: pods, apiServer: apiServer, listeners: map[string]*serviceListener{}}
}

// sync listens on every Service port and refreshes every endpoint list.
func (p *proxy) sync(ctx context.Context) {
	services, err := p.services.List(everything)
	if err != nil {
		return
	}
	want := map[string][]string{}
	for _, svc := range services {
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		for _, port := range svc.Spec.Ports {
			if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
				continue
			}
			want[net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port.Port)))] = p.endpoints(svc, port)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, l := range p.listeners {
		if _, ok := want[addr]; !ok {
			l.ln.Close()
			delete(p.listeners, addr)
		}
	}
	for addr, eps := range want {
		l, ok := p.listeners[addr]
		if !ok {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				klog.FromContext(ctx).Error(err, "Listening for a Service", "address", addr)
				continue
			}
			l = &serviceListener{ln: ln}
			p.listeners[addr] = l
			go l.serve()
		}
		l.endpoints.Store(&eps)
	}
}

// endpoints are the ready pods' addresses for one Service port.
func (p *proxy) endpoints(svc *corev1.Service, port corev1.ServicePort) []string {
	if svc.Namespace == "default" && svc.Name == "kubernetes" {
		return []string{p.apiServer}
	}
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	pods, err := p.pods.Pods(svc.Namespace).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return nil
	}
	var out []string
	for _, pod := range pods {
		if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil || !podReady(pod) {
			continue
		}
		if target, ok := targetPort(pod, port.TargetPort, port.Port); ok {
			out = append(out, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(target)))
		}
	}
	sort.Strings(out)
	return out
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// targetPort resolves a Service's targetPort (a number, a container port's
// name, or unset for the Service port) for one pod.
func targetPort(pod *corev1.Pod, target intstr.IntOrString, servicePort int32) (int, bool) {
	switch {
	case target.Type == intstr.String && target.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == target.StrVal {
					return int(cp.ContainerPort), true
				}
			}
		}
		return 0, false
	case target.IntVal != 0:
		return int(target.IntVal), true
	}
	return int(servicePort), true
}

func (l *serviceListener) serve() {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		go l.forward(conn)
	}
}

// forward connects a client to one ready endpoint, round robin.
func (l *serviceListener) forward(client net.Conn) {
	defer client.Close()
	eps := *l.endpoints.Load()
	if len(eps) == 0 {
		return
	}
	ep := eps[l.next.Add(1)%uint64(len(eps))]
	backend, err := net.DialTimeout("tcp", ep, 5*time.Second)
	if err != nil {
		return
	}
	defer backend.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(backend, client); closeWrite(backend); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, backend); closeWrite(client); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.listeners {
		l.ln.Close()
	}
}

// clusterIP is the ClusterIP of a Service, or "".
func (p *proxy) clusterIP(namespace, name string) string {
	svc, err := p.services.Services(namespace).Get(name)
	if err != nil {
		return ""
	}
	return svc.Spec.ClusterIP
}

// hostsFile renders /etc/hosts for a pod: itself, every Service by its
// cluster names, and the pods of headless Services by theirs.
func hostsFile(pod *corev1.Pod, services []*corev1.Service, pods []*corev1.Pod) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
	names := func(ip string, n ...string) { fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(n, " ")) }
	self := []string{pod.Name}
	if pod.Spec.Hostname != "" {
		self = []string{pod.Spec.Hostname}
		if pod.Spec.Subdomain != "" {
			fqdn := pod.Spec.Hostname + "." + pod.Spec.Subdomain + "." + pod.Namespace + ".svc"
			self = append(self, fqdn+".cluster.local", fqdn)
		}
	}
	names(pod.Status.PodIP, self...)
	headless := map[string]bool{}
	slices.SortFunc(services, func(a, b *corev1.Service) int { return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name) })
	for _, svc := range services {
		base := svc.Name + "." + svc.Namespace
		switch {
		case svc.Spec.ClusterIP == corev1.ClusterIPNone:
			headless[svc.Namespace+"/"+svc.Name] = true
		case svc.Spec.ClusterIP != "":
			names(svc.Spec.ClusterIP, base+".svc.cluster.local", base+".svc", base)
		}
	}
	for _, other := range pods {
		if other.Status.PodIP == "" || other.Spec.Hostname == "" || !headless[other.Namespace+"/"+other.Spec.Subdomain] {
			continue
		}
		fqdn := other.Spec.Hostname + "." + other.Spec.Subdomain + "." + other.Namespace + ".svc"
		names(other.Status.PodIP, fqdn+".cluster.local", fqdn, other.Spec.Subdomain+"."+other.Namespace+".svc")
	}
	return b.String()
}

// resolvConf names no reachable server: every cluster name is in
// /etc/hosts, and anything else fails at once.
func resolvConf(namespace string) string {
	return "nameserver 127.0.0.1\nsearch " + namespace + ".svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
}
