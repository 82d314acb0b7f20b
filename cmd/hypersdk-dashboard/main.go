// Command hypersdk-dashboard is the dashboard of kubectl hyper dashboard run
// in a cluster (artifacts/dashboard): it holds no credentials for the
// clusters it shows. Users log in with their own bearer token, which is
// forwarded on every request, so each sees and does what their RBAC allows.
// Its ServiceAccount reads only the cluster Secrets of its namespace.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/dashboard"
	"github.com/hypersdk/hypersdk/pkg/tlsserve"
)

const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-dashboard:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		bindAddress, kubeconfig, namespace, local string
		tlsOpts                                   tlsserve.Options
	)
	fs := pflag.NewFlagSet("hypersdk-dashboard", pflag.ContinueOnError)
	fs.StringVar(&bindAddress, "bind-address", ":9443", "Address to serve HTTPS on.")
	fs.StringVar(&tlsOpts.CertFile, "tls-cert-file", "", "Serving certificate (PEM), read again when it changes; a self-signed one is made at start when empty.")
	fs.StringVar(&tlsOpts.KeyFile, "tls-private-key-file", "", "Private key of --tls-cert-file.")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Kubeconfig of the dashboard's own cluster; in-cluster when empty. Only its ServiceAccount's rights to read the cluster Secrets are used.")
	fs.StringVar(&namespace, "namespace", "", "Namespace of the cluster Secrets; the pod's own when empty.")
	fs.StringVar(&local, "cluster-name", "in-cluster", "Name shown for the cluster the dashboard runs in.")
	if err := fs.Parse(os.Args[1:]); errors.Is(err, pflag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if (tlsOpts.CertFile == "") != (tlsOpts.KeyFile == "") {
		return errors.New("--tls-cert-file and --tls-private-key-file go together")
	}
	if errs := validation.IsDNS1123Subdomain(local); len(errs) > 0 {
		// It names the login cookie of that cluster (and the Secrets' names
		// the others'): a browser drops a cookie whose name is not a token.
		return fmt.Errorf("--cluster-name %q: %s", local, strings.Join(errs, "; "))
	}
	if namespace == "" {
		data, err := os.ReadFile(namespaceFile)
		if err != nil {
			return fmt.Errorf("--namespace not given and not running in a pod: %w", err)
		}
		namespace = strings.TrimSpace(string(data))
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}

	ctx := genericapiserver.SetupSignalContext()
	factory := informers.NewSharedInformerFactoryWithOptions(kube, 10*time.Minute, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = dashboard.ClusterLabel }))
	secrets := factory.Core().V1().Secrets()
	lister := secrets.Lister().Secrets(namespace)
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), secrets.Informer().HasSynced) {
		return fmt.Errorf("listing the cluster Secrets of namespace %s did not finish", namespace)
	}

	srv := &dashboard.Server{
		Source:    &dashboard.SecretSource{Local: local, LocalConfig: rest.AnonymousClientConfig(cfg), Namespace: namespace, Secrets: lister},
		InCluster: true, Resync: 2 * time.Second,
	}
	srv.Start(ctx)

	ln, err := listen(ctx, bindAddress)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", bindAddress, err)
	}
	if ln, err = tlsListener(ctx, ln, &tlsOpts); err != nil {
		return err
	}
	httpServer := &http.Server{Handler: srv.Handler(dashboard.UI()), ReadHeaderTimeout: 10 * time.Second}
	klog.InfoS("Serving the dashboard", "address", ln.Addr().String(), "namespace", namespace, "selfSigned", !tlsOpts.Enabled())
	return tlsserve.Serve(ctx, httpServer, ln, 5*time.Second)
}

// listen binds address with SO_REUSEPORT. In a pod's own network namespace
// that changes nothing; replicas that share one (hostNetwork, or the test
// sandbox's host node) can then all listen on the same port, which a pod
// needs when its address is the wildcard: kubectl port-forward reaches it on
// the loopback address, a Service and an ingress on the pod's.
func listen(ctx context.Context, address string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var sockErr error
		err := c.Control(func(fd uintptr) { sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return errors.Join(err, sockErr)
	}}
	return lc.Listen(ctx, "tcp", address)
}

// tlsListener serves with the given certificate, or with a self-signed one
// made now: the users' tokens never travel in plain HTTP, and the browser
// keeps them only in a Secure cookie.
func tlsListener(ctx context.Context, ln net.Listener, o *tlsserve.Options) (net.Listener, error) {
	if o.Enabled() {
		return o.Listener(ctx, ln)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, nil, []string{"localhost"})
	if err != nil {
		return nil, fmt.Errorf("making a self-signed certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}
