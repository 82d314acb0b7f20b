package tlsserve

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/pki"
)

// What TLS with client certificates costs a scheduler extender's verb, on a
// kept-alive connection as kube-scheduler holds one: POSTs of a body the
// size of kube-scheduler's filter arguments for a VM pod and 500 node names
// (about 12 KB), answered with a small body, plain against TLS.
//
//	go test -run '^$' -bench . ./pkg/tlsserve/
func benchPost(b *testing.B, useTLS bool) {
	dir := b.TempDir()
	ca, err := pki.NewCA("bench-ca")
	if err != nil {
		b.Fatal(err)
	}
	serving, err := ca.Issue(pki.Leaf{CommonName: "extender", Server: true, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		b.Fatal(err)
	}
	client, err := ca.Issue(pki.Leaf{CommonName: "kube-scheduler", Client: true})
	if err != nil {
		b.Fatal(err)
	}
	certFile, keyFile, err := serving.Write(dir, "serving")
	if err != nil {
		b.Fatal(err)
	}
	caFile, err := ca.WriteCA(dir, "ca")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/filter"
	transport := &http.Transport{}
	if useTLS {
		o := Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: filepath.Clean(caFile)}
		if ln, err = o.Listener(ctx, ln); err != nil {
			b.Fatal(err)
		}
		pair, err := tls.X509KeyPair(client.CertPEM, client.KeyPEM)
		if err != nil {
			b.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(ca.CertPEM())
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}
		url = "https://" + ln.Addr().String() + "/filter"
	}
	answer := bytes.Repeat([]byte("x"), 300)
	srv := &http.Server{Handler: (&Options{}).RequireClientCert(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write(answer)
	}), "/never")}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	hc := &http.Client{Transport: transport}
	body := bytes.Repeat([]byte("node-00000,"), 12000/11)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkFilterPostPlain(b *testing.B) { benchPost(b, false) }
func BenchmarkFilterPostTLS(b *testing.B)   { benchPost(b, true) }
