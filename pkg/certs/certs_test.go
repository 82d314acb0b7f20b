package certs

import (
	"context"
	"crypto/x509"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/util/cert"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorfake "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

func testConfig() Config {
	return Config{
		Namespace:   "hypersdk-system",
		CASecret:    "hypersdk-ca",
		APIServices: []string{"v1alpha1.hypersdk.io"},
		Validity:    metav1.Duration{Duration: 90 * 24 * time.Hour},
		Certificates: []Certificate{
			{Secret: "apiserver-tls", CommonName: "hypersdk-apiserver", DNSNames: []string{"hypersdk-apiserver.hypersdk-system.svc"}, Usages: []string{"server"}},
			{Secret: "scheduler-client", CommonName: "kube-scheduler", Usages: []string{"client"}},
		},
	}
}

func leaf(t *testing.T, s *corev1.Secret) *x509.Certificate {
	t.Helper()
	certs, err := cert.ParseCertsPEM(s.Data[CertKey])
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func TestRotatorIssuesRenewsAndSetsBundles(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	agg := aggregatorfake.NewSimpleClientset(&apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: "v1alpha1.hypersdk.io"}})
	now := time.Now() // certificates are issued on the real clock, and verified on it (their notBefore is a whole second)
	clk := clocktesting.NewFakeClock(now)
	r := NewRotator(testConfig(), kube, agg, clk)
	get := func(name string) *corev1.Secret {
		s, err := kube.CoreV1().Secrets("hypersdk-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("secret %s: %v", name, err)
		}
		return s
	}

	// First pass: a CA, both leaves signed by it, and the bundle set.
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ca := get("hypersdk-ca")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.Data[CertKey])
	server, client := leaf(t, get("apiserver-tls")), leaf(t, get("scheduler-client"))
	if _, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "hypersdk-apiserver.hypersdk-system.svc", CurrentTime: time.Now()}); err != nil {
		t.Errorf("serving certificate does not verify for its name: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: time.Now()}); err != nil {
		t.Errorf("client certificate does not verify for client auth: %v", err)
	}
	if string(get("apiserver-tls").Data[CAKey]) != string(ca.Data[CertKey]) {
		t.Error("leaf Secret lacks the CA bundle")
	}
	svc, _ := agg.ApiregistrationV1().APIServices().Get(ctx, "v1alpha1.hypersdk.io", metav1.GetOptions{})
	if string(svc.Spec.CABundle) != string(ca.Data[CertKey]) {
		t.Error("APIService caBundle is not the CA")
	}

	// A second pass changes nothing.
	before := get("apiserver-tls").ResourceVersion
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if get("apiserver-tls").ResourceVersion != before {
		t.Error("a valid certificate was rewritten")
	}

	// Past two thirds of its validity, a certificate is renewed.
	clk.SetTime(now.Add(61 * 24 * time.Hour))
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if renewed := leaf(t, get("apiserver-tls")); renewed.SerialNumber.Cmp(server.SerialNumber) == 0 {
		t.Error("a certificate with less than a third of its validity left was not renewed")
	}

	// New names in the configuration are a new certificate; a bundle
	// someone changed is set back.
	cfg := testConfig()
	cfg.Certificates[0].DNSNames = append(cfg.Certificates[0].DNSNames, "hypersdk-apiserver.hypersdk-system.svc.cluster.local")
	svc.Spec.CABundle = []byte("stale")
	if _, err := agg.ApiregistrationV1().APIServices().Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := NewRotator(cfg, kube, agg, clk).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := leaf(t, get("apiserver-tls")).DNSNames; len(got) != 2 {
		t.Errorf("names after the configuration changed = %v, want both", got)
	}
	if svc, _ = agg.ApiregistrationV1().APIServices().Get(ctx, "v1alpha1.hypersdk.io", metav1.GetOptions{}); string(svc.Spec.CABundle) != string(ca.Data[CertKey]) {
		t.Error("a changed caBundle was not set back")
	}
	if get("hypersdk-ca").ResourceVersion != ca.ResourceVersion {
		t.Error("the CA was replaced while valid")
	}

	// New usages, or a shorter validity, in the configuration are a new
	// certificate too, not one that waits for a third of its old validity.
	// (Back to now: at 61 days every certificate issued on the real clock
	// is due anyway.)
	clk.SetTime(now)
	cfg.Certificates[0].Usages = append(cfg.Certificates[0].Usages, "client")
	if err := NewRotator(cfg, kube, agg, clk).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := leaf(t, get("apiserver-tls")).ExtKeyUsage; !slices.Contains(got, x509.ExtKeyUsageClientAuth) || !slices.Contains(got, x509.ExtKeyUsageServerAuth) {
		t.Errorf("usages after the configuration added client: %v, want server and client", got)
	}
	cfg.Validity.Duration = 24 * time.Hour
	if err := NewRotator(cfg, kube, agg, clk).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if l := leaf(t, get("apiserver-tls")); l.NotAfter.Sub(l.NotBefore) > 25*time.Hour {
		t.Errorf("validity after the configuration shortened it to 24h: %s", l.NotAfter.Sub(l.NotBefore))
	}
}

func TestConfigValidation(t *testing.T) {
	cfg := testConfig()
	cfg.Certificates = append(cfg.Certificates, Certificate{Secret: "apiserver-tls", CommonName: "x", Usages: []string{"peer"}})
	errs := cfg.Validate()
	if len(errs) != 2 || errs[0].Field != "certificates[2].secret" || errs[1].Field != "certificates[2].usages[0]" {
		t.Errorf("Validate = %v, want a duplicate secret and an unknown usage", errs)
	}
	cfg = testConfig()
	cfg.Certificates[1].CASecret = "apiserver-tls"
	if errs := cfg.Validate(); len(errs) != 1 || errs[0].Field != "certificates[0].secret" {
		t.Errorf("Validate = %v, want the leaf whose Secret is a CA's refused", errs)
	}
}

// TestCertificatesOfAnotherCA: a certificate with a CA of its own is signed
// by that CA alone, so a server trusting that CA (etcd) refuses the
// certificates of the configuration's CA, and the other way round.
func TestCertificatesOfAnotherCA(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	agg := aggregatorfake.NewSimpleClientset(&apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: "v1alpha1.hypersdk.io"}})
	cfg := testConfig()
	cfg.Certificates = append(cfg.Certificates, Certificate{Secret: "etcd-client", CommonName: "hypersdk-apiserver", Usages: []string{"client"}, CASecret: "etcd-ca"})
	now := time.Now()
	if err := NewRotator(cfg, kube, agg, clocktesting.NewFakeClock(now)).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	get := func(name string) *corev1.Secret {
		s, err := kube.CoreV1().Secrets("hypersdk-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("secret %s: %v", name, err)
		}
		return s
	}
	pool := func(secret string) *x509.CertPool {
		p := x509.NewCertPool()
		p.AppendCertsFromPEM(get(secret).Data[CertKey])
		return p
	}
	verifies := func(leafSecret, caSecret string) bool {
		_, err := leaf(t, get(leafSecret)).Verify(x509.VerifyOptions{Roots: pool(caSecret),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: time.Now()})
		return err == nil
	}
	if !verifies("etcd-client", "etcd-ca") || verifies("etcd-client", "hypersdk-ca") {
		t.Error("the etcd client certificate is not signed by the etcd CA alone")
	}
	if !verifies("scheduler-client", "hypersdk-ca") || verifies("scheduler-client", "etcd-ca") {
		t.Error("the scheduler's client certificate is not signed by HyperSDK's CA alone")
	}
	if got, want := string(get("etcd-client").Data[CAKey]), string(get("etcd-ca").Data[CertKey]); got != want {
		t.Error("the etcd client's Secret does not bundle its own CA")
	}
	if cn := leaf(t, get("etcd-ca")).Subject.CommonName; cn != "etcd-ca" {
		t.Errorf("the second CA is named %q, want its Secret's name", cn)
	}
	svc, _ := agg.ApiregistrationV1().APIServices().Get(ctx, "v1alpha1.hypersdk.io", metav1.GetOptions{})
	if string(svc.Spec.CABundle) != string(get("hypersdk-ca").Data[CertKey]) {
		t.Error("the APIService's caBundle is not the configuration's CA")
	}
}
