// Package certs keeps HyperSDK's certificates in Secrets for clusters without
// cert-manager: CAs made on first start and kept in Secrets, leaf
// certificates they sign (serving certificates of hypersdk-apiserver, etcd and
// the scheduler extender, client certificates of hypersdk-apiserver towards
// etcd and of kube-scheduler towards the extender; etcd's from a CA of its
// own), each renewed well before it expires, and the caBundle of
// HyperSDK's APIServices kept equal to the configuration's CA. It is the pattern of open-policy-agent/cert-controller; in HyperSDK
// the leader of hypersdk-controller runs it, so one writer owns the Secrets
// and the servers only read them, as mounted files they reload on change.
package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/cert"
	"k8s.io/klog/v2"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/pkg/pki"
)

// Keys of the Secrets, as cert-manager writes them.
const (
	CAKey   = "ca.crt"
	CertKey = corev1.TLSCertKey
	KeyKey  = corev1.TLSPrivateKeyKey
)

// Config says which Secrets to keep.
type Config struct {
	// Namespace of every Secret.
	Namespace string `json:"namespace"`
	// CASecret holds the CA (tls.crt, tls.key, ca.crt).
	CASecret string `json:"caSecret"`
	// APIServices whose spec.caBundle is kept to the CA.
	APIServices []string `json:"apiServices,omitempty"`
	// Validity of leaf certificates; one year when zero. A certificate is
	// renewed when less than a third of its validity is left.
	Validity metav1.Duration `json:"validity,omitempty"`
	// Certificates to issue.
	Certificates []Certificate `json:"certificates"`
}

// Certificate is one leaf certificate and the Secret it lives in.
type Certificate struct {
	Secret     string   `json:"secret"`
	CommonName string   `json:"commonName"`
	DNSNames   []string `json:"dnsNames,omitempty"`
	// Usages are server and/or client.
	Usages []string `json:"usages"`
	// CASecret holds the CA that signs this certificate, made like the
	// configuration's own; that one when empty. A server that trusts every
	// client certificate of its CA (etcd) needs a CA of its own, or every
	// client certificate HyperSDK hands out would reach it.
	CASecret string `json:"caSecret,omitempty"`
}

// caOf is the Secret of the CA that signs crt.
func (c *Config) caOf(crt Certificate) string {
	if crt.CASecret != "" {
		return crt.CASecret
	}
	return c.CASecret
}

// LoadConfig reads a Config from a YAML or JSON file and validates it.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificates configuration: %w", err)
	}
	cfg := &Config{}
	if err := yaml.UnmarshalStrict(data, cfg); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", path, errs.ToAggregate())
	}
	return cfg, nil
}

// Validate checks the configuration.
func (c *Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if c.Namespace == "" {
		errs = append(errs, field.Required(field.NewPath("namespace"), ""))
	}
	if c.CASecret == "" {
		errs = append(errs, field.Required(field.NewPath("caSecret"), ""))
	}
	if c.Validity.Duration < 0 {
		errs = append(errs, field.Invalid(field.NewPath("validity"), c.Validity.Duration.String(), "must not be negative"))
	}
	cas := map[string]bool{c.CASecret: true}
	for _, crt := range c.Certificates {
		cas[c.caOf(crt)] = true
	}
	seen := map[string]bool{}
	for i, crt := range c.Certificates {
		p := field.NewPath("certificates").Index(i)
		if crt.Secret == "" {
			errs = append(errs, field.Required(p.Child("secret"), ""))
		} else if seen[crt.Secret] {
			errs = append(errs, field.Duplicate(p.Child("secret"), crt.Secret))
		} else if cas[crt.Secret] {
			errs = append(errs, field.Invalid(p.Child("secret"), crt.Secret, "is the Secret of a CA"))
		}
		seen[crt.Secret] = true
		if crt.CommonName == "" {
			errs = append(errs, field.Required(p.Child("commonName"), ""))
		}
		if len(crt.Usages) == 0 {
			errs = append(errs, field.Required(p.Child("usages"), "server and/or client"))
		}
		for j, u := range crt.Usages {
			if u != "server" && u != "client" {
				errs = append(errs, field.NotSupported(p.Child("usages").Index(j), u, []string{"server", "client"}))
			}
		}
	}
	return errs
}

// Rotator keeps the Secrets and caBundles of a Config.
type Rotator struct {
	cfg        Config
	kube       kubernetes.Interface
	aggregator aggregator.Interface
	clock      clock.Clock
	// Interval between checks; one minute when zero.
	Interval time.Duration
}

// NewRotator returns a rotator; a nil clock is the real one.
func NewRotator(cfg Config, kube kubernetes.Interface, agg aggregator.Interface, clk clock.Clock) *Rotator {
	if cfg.Validity.Duration == 0 {
		cfg.Validity.Duration = pki.DefaultValidity
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Rotator{cfg: cfg, kube: kube, aggregator: agg, clock: clk, Interval: time.Minute}
}

// Run checks the certificates now and then every Interval until ctx ends.
func (r *Rotator) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("controller", "certificates")
	ctx = klog.NewContext(ctx, logger)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := r.Sync(ctx); err != nil {
			logger.Error(err, "Keeping certificates")
		}
	}, r.Interval)
}

// Sync makes every Secret and caBundle current once.
func (r *Rotator) Sync(ctx context.Context) error {
	ca, err := r.ensureCA(ctx, r.cfg.CASecret)
	if err != nil {
		return err
	}
	cas := map[string]*pki.CA{r.cfg.CASecret: ca}
	var errs []error
	for _, crt := range r.cfg.Certificates {
		name := r.cfg.caOf(crt)
		signer, ok := cas[name]
		if !ok {
			if signer, err = r.ensureCA(ctx, name); err != nil {
				errs = append(errs, fmt.Errorf("CA secret %s/%s: %w", r.cfg.Namespace, name, err))
				continue
			}
			cas[name] = signer
		}
		if err := r.ensureLeaf(ctx, signer, crt); err != nil {
			errs = append(errs, fmt.Errorf("secret %s/%s: %w", r.cfg.Namespace, crt.Secret, err))
		}
	}
	for _, name := range r.cfg.APIServices {
		if err := r.ensureCABundle(ctx, name, ca.CertPEM()); err != nil {
			errs = append(errs, fmt.Errorf("APIService %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// ensureCA returns the CA kept in the Secret name, made (named as its
// Secret) when missing, unreadable or expired.
func (r *Rotator) ensureCA(ctx context.Context, name string) (*pki.CA, error) {
	secrets := r.kube.CoreV1().Secrets(r.cfg.Namespace)
	s, err := secrets.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		s = nil
	case err != nil:
		return nil, err
	default:
		ca, loadErr := pki.LoadCA(s.Data[CertKey], s.Data[KeyKey])
		if loadErr == nil && r.clock.Now().Before(ca.Cert.NotAfter) {
			return ca, nil
		}
		klog.FromContext(ctx).Info("Replacing the CA", "secret", klog.KObj(s), "reason", loadErr)
	}
	ca, err := pki.NewCA(name)
	if err != nil {
		return nil, err
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{CertKey: ca.CertPEM(), KeyKey: keyPEM, CAKey: ca.CertPEM()}
	if err := r.write(ctx, s, name, data); err != nil {
		return nil, err
	}
	klog.FromContext(ctx).Info("Made a CA", "secret", klog.KRef(r.cfg.Namespace, name), "notAfter", ca.Cert.NotAfter)
	// Read it back: another writer may have won, and its CA is the one in use.
	s, err = secrets.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return pki.LoadCA(s.Data[CertKey], s.Data[KeyKey])
}

func (r *Rotator) ensureLeaf(ctx context.Context, ca *pki.CA, crt Certificate) error {
	s, err := r.kube.CoreV1().Secrets(r.cfg.Namespace).Get(ctx, crt.Secret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		s = nil
	case err != nil:
		return err
	default:
		reason := r.stale(ca, crt, s)
		if reason == "" {
			return nil
		}
		klog.FromContext(ctx).Info("Renewing a certificate", "secret", klog.KObj(s), "reason", reason)
	}
	kp, err := ca.Issue(pki.Leaf{
		CommonName: crt.CommonName, DNSNames: crt.DNSNames, Validity: r.cfg.Validity.Duration,
		Server: slices.Contains(crt.Usages, "server"), Client: slices.Contains(crt.Usages, "client"),
	})
	if err != nil {
		return err
	}
	data := map[string][]byte{CertKey: kp.CertPEM, KeyKey: kp.KeyPEM, CAKey: ca.CertPEM()}
	return r.write(ctx, s, crt.Secret, data)
}

// stale says why the certificate in s must be replaced, or "".
func (r *Rotator) stale(ca *pki.CA, crt Certificate, s *corev1.Secret) string {
	if !bytes.Equal(s.Data[CAKey], ca.CertPEM()) {
		return "CA bundle differs"
	}
	certs, err := cert.ParseCertsPEM(s.Data[CertKey])
	if err != nil {
		return "unreadable certificate: " + err.Error()
	}
	leaf := certs[0]
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: r.clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return "does not verify against the CA: " + err.Error()
	}
	if leaf.Subject.CommonName != crt.CommonName || !slices.Equal(leaf.DNSNames, crt.DNSNames) {
		return "names differ"
	}
	if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) != slices.Contains(crt.Usages, "server") ||
		slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) != slices.Contains(crt.Usages, "client") {
		return "usages differ"
	}
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	if lifetime > r.cfg.Validity.Duration+time.Hour {
		// Shortened in the configuration: a certificate issued for longer
		// would otherwise stand until a third of its old validity is left.
		return "issued for longer than the configured validity"
	}
	if r.clock.Now().After(leaf.NotAfter.Add(-lifetime / 3)) {
		return "less than a third of its validity is left"
	}
	return ""
}

// write creates the Secret, or updates it on the version read (a conflict
// means another writer got there first: the next pass reads its result).
func (r *Rotator) write(ctx context.Context, current *corev1.Secret, name string, data map[string][]byte) error {
	secrets := r.kube.CoreV1().Secrets(r.cfg.Namespace)
	if current == nil {
		_, err := secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.cfg.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "hypersdk-controller"}},
			Type: corev1.SecretTypeTLS,
			Data: data,
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	updated := current.DeepCopy()
	updated.Data = data
	_, err := secrets.Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func (r *Rotator) ensureCABundle(ctx context.Context, name string, bundle []byte) error {
	apiServices := r.aggregator.ApiregistrationV1().APIServices()
	svc, err := apiServices.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if bytes.Equal(svc.Spec.CABundle, bundle) {
		return nil
	}
	svc.Spec.CABundle = bundle
	if _, err := apiServices.Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	klog.FromContext(ctx).Info("Set the CA bundle", "apiService", name)
	return nil
}
