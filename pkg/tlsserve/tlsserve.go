// Package tlsserve serves HTTP over TLS for HyperSDK's plain servers (the
// scheduler extender, the controller's metrics): the serving certificate
// and the client CA are read from files and read again when they change, as
// k8s.io/apiserver does for its own certificates (cert-manager and
// hypersdk-controller rotate them in place), and chosen paths can require a
// client certificate that the client CA signed.
package tlsserve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// Options name the certificate files and the clients allowed.
type Options struct {
	CertFile     string
	KeyFile      string
	ClientCAFile string
	// ClientNames, when set, are the common names a client certificate
	// must have where one is required. The client CA may sign certificates
	// for other uses (HyperSDK's one CA signs etcd's clients too), and
	// those must not pass for the client a path is for.
	ClientNames []string
}

// AddFlags adds --tls-cert-file, --tls-private-key-file, --client-ca-file
// and --client-common-names.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.CertFile, "tls-cert-file", o.CertFile, "Serving certificate (PEM); serve plain HTTP when empty. Read again when it changes.")
	fs.StringVar(&o.KeyFile, "tls-private-key-file", o.KeyFile, "Private key of --tls-cert-file.")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "CA bundle (PEM) that must have signed a client's certificate where one is required.")
	fs.StringSliceVar(&o.ClientNames, "client-common-names", o.ClientNames, "Common names a client certificate must have where one is required; any the client CA signed when empty.")
}

// Validate returns every problem with the options.
func (o *Options) Validate() []error {
	var errs []error
	if (o.CertFile == "") != (o.KeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-private-key-file go together"))
	}
	if o.ClientCAFile != "" && o.CertFile == "" {
		errs = append(errs, errors.New("--client-ca-file needs --tls-cert-file: client certificates are only seen over TLS"))
	}
	if len(o.ClientNames) > 0 && o.ClientCAFile == "" {
		errs = append(errs, errors.New("--client-common-names needs --client-ca-file"))
	}
	return errs
}

// Enabled reports whether TLS is configured.
func (o *Options) Enabled() bool { return o.CertFile != "" }

// Listener wraps ln in TLS with the configured certificates, kept current
// until ctx ends. A client certificate is asked for, and verified against
// the client CA when one is given, but not required at the handshake: use
// RequireClientCert on the handlers that need one.
func (o *Options) Listener(ctx context.Context, ln net.Listener) (net.Listener, error) {
	serving, err := dynamiccertificates.NewDynamicServingContentFromFiles("serving-cert", o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the serving certificate: %w", err)
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	var clientCA *dynamiccertificates.DynamicFileCAContent
	if o.ClientCAFile != "" {
		if clientCA, err = dynamiccertificates.NewDynamicCAContentFromFile("client-ca", o.ClientCAFile); err != nil {
			return nil, fmt.Errorf("loading the client CA: %w", err)
		}
		base.ClientAuth = tls.VerifyClientCertIfGiven
	}
	var ca dynamiccertificates.CAContentProvider
	if clientCA != nil {
		ca = clientCA
	}
	controller := dynamiccertificates.NewDynamicServingCertificateController(base, ca, serving, nil, nil)
	serving.AddListener(controller)
	if clientCA != nil {
		clientCA.AddListener(controller)
		go clientCA.Run(ctx, 1)
	}
	if err := controller.RunOnce(); err != nil {
		return nil, fmt.Errorf("building the TLS configuration: %w", err)
	}
	go serving.Run(ctx, 1)
	go controller.Run(1, ctx.Done())
	return tls.NewListener(ln, &tls.Config{GetConfigForClient: controller.GetConfigForClient}), nil
}

// RequireClientCert answers 401 on the given paths (a path ending in / is
// everything under it) to requests that came without a client certificate
// the client CA verified, 403 to those whose certificate's common name is
// not one of ClientNames (when set), and passes every other request to h.
func (o *Options) RequireClientCert(h http.Handler, paths ...string) http.Handler {
	names := slices.Clone(o.ClientNames)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		guarded := slices.ContainsFunc(paths, func(p string) bool {
			return p == r.URL.Path || strings.HasSuffix(p, "/") && strings.HasPrefix(r.URL.Path, p)
		})
		if !guarded {
			h.ServeHTTP(w, r)
			return
		}
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			http.Error(w, "a client certificate signed by the client CA is required", http.StatusUnauthorized)
			return
		}
		if cn := r.TLS.VerifiedChains[0][0].Subject.CommonName; len(names) > 0 && !slices.Contains(names, cn) {
			http.Error(w, fmt.Sprintf("client certificate %q may not call %s", cn, r.URL.Path), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Serve serves srv on ln until ctx ends, then shuts srv down and returns
// once the requests in flight are answered, or grace has passed.
// http.Server.Serve returns as soon as Shutdown begins, so a process that
// exits then cuts off what Shutdown is still draining (a scheduler's bind,
// which kube-scheduler then does without the extender).
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	drained := make(chan error, 1)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer cancel()
		drained <- srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := <-drained; err != nil {
		return fmt.Errorf("shutting down the server within %s: %w", grace, err)
	}
	return nil
}
