package dashboard

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// In in-cluster mode, each cluster other than the dashboard's own is a
// Secret in the dashboard's namespace with ClusterLabel, holding under
// KubeconfigKey a kubeconfig that names the API server and its CA and no
// credentials: the users' tokens are the only ones the dashboard sends.
const (
	ClusterLabel = "hypersdk.io/dashboard-cluster"
	// PrimaryAnnotation "true" makes a Secret's cluster the primary one
	// (the first such Secret by name); without it the dashboard's own
	// cluster is primary.
	PrimaryAnnotation = "hypersdk.io/dashboard-primary"
	KubeconfigKey     = "kubeconfig"
)

// SecretSource lists the clusters of the in-cluster dashboard: the one it
// runs in, and one per cluster Secret. Clusters are added, removed and made
// primary by changing the Secrets (kubectl, GitOps), not from the
// dashboard, whose ServiceAccount can only read them.
type SecretSource struct {
	// Local names the cluster the dashboard runs in; LocalConfig reaches
	// its API server with no credentials.
	Local       string
	LocalConfig *rest.Config
	// Namespace holds the cluster Secrets, which Secrets lists (an
	// informer's lister filtered by ClusterLabel).
	Namespace string
	Secrets   corelisters.SecretNamespaceLister
}

// Clusters lists the dashboard's own cluster, then the Secrets' by name.
func (s *SecretSource) Clusters() (ClusterList, map[string]Endpoint, error) {
	secrets, err := s.Secrets.List(labels.Everything())
	if err != nil {
		return ClusterList{}, nil, fmt.Errorf("listing cluster Secrets in %s: %w", s.Namespace, err)
	}
	slices.SortFunc(secrets, func(a, b *corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	l := ClusterList{Primary: s.Local, Contexts: []string{s.Local}}
	out := map[string]Endpoint{s.Local: {Config: s.LocalConfig}}
	primary := false
	for _, sec := range secrets {
		if _, ok := sec.Labels[ClusterLabel]; !ok || sec.Name == s.Local {
			continue
		}
		cfg, err := EndpointFromKubeconfig(sec.Data[KubeconfigKey])
		if err != nil {
			err = fmt.Errorf("Secret %s/%s: %w", sec.Namespace, sec.Name, err)
		}
		l.Contexts = append(l.Contexts, sec.Name)
		out[sec.Name] = Endpoint{Config: cfg, Err: err, Revision: sec.ResourceVersion}
		if !primary && sec.Annotations[PrimaryAnnotation] == "true" {
			l.Primary, primary = sec.Name, true
		}
	}
	return l, out, nil
}

func (s *SecretSource) readOnly() error {
	return fmt.Errorf("%w: in the cluster they are Secrets labelled %s in namespace %s (kubectl create secret generic NAME --from-file=%s=FILE, then label it)",
		ErrReadOnly, ClusterLabel, s.Namespace, KubeconfigKey)
}

// Add, Remove and Use answer ErrReadOnly: see SecretSource.
func (s *SecretSource) Add(string) error    { return s.readOnly() }
func (s *SecretSource) Remove(string) error { return s.readOnly() }
func (s *SecretSource) Use(string) error    { return s.readOnly() }

// EndpointFromKubeconfig reads the server and CA of a cluster Secret's
// kubeconfig (its current context's cluster, or its only one). It refuses
// a kubeconfig that carries credentials, which the dashboard would never
// use, that turns off verifying the server, to which every user's token
// would then go unchecked, or whose server is not https.
func EndpointFromKubeconfig(data []byte) (*rest.Config, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("no %q key", KubeconfigKey)
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	for name, a := range kc.AuthInfos {
		if hasCredentials(a) {
			return nil, fmt.Errorf("user %q carries credentials: the dashboard sends only each user's own token, so give it the server and its CA alone", name)
		}
	}
	var cluster *clientcmdapi.Cluster
	if ctx, ok := kc.Contexts[kc.CurrentContext]; ok {
		cluster = kc.Clusters[ctx.Cluster]
	} else if len(kc.Clusters) == 1 {
		for _, c := range kc.Clusters {
			cluster = c
		}
	}
	switch {
	case cluster == nil:
		return nil, errors.New("no cluster: want a current context or a single cluster")
	case cluster.Server == "":
		return nil, errors.New("the cluster has no server")
	case !strings.HasPrefix(cluster.Server, "https://"):
		return nil, fmt.Errorf("server %q is not an https:// address: the users' tokens would cross the network in the clear", cluster.Server)
	case cluster.InsecureSkipTLSVerify:
		return nil, errors.New("insecure-skip-tls-verify is set: the users' tokens would go to a server nobody verified")
	case cluster.CertificateAuthority != "":
		return nil, errors.New("certificate-authority names a file: put the CA in certificate-authority-data")
	}
	return &rest.Config{Host: cluster.Server, TLSClientConfig: rest.TLSClientConfig{
		CAData: cluster.CertificateAuthorityData, ServerName: cluster.TLSServerName}}, nil
}

// hasCredentials tells whether a kubeconfig user says who to be in any way.
func hasCredentials(a *clientcmdapi.AuthInfo) bool {
	return a.ClientCertificate != "" || len(a.ClientCertificateData) > 0 || a.ClientKey != "" || len(a.ClientKeyData) > 0 ||
		a.Token != "" || a.TokenFile != "" || a.Impersonate != "" || a.ImpersonateUID != "" || len(a.ImpersonateGroups) > 0 ||
		len(a.ImpersonateUserExtra) > 0 || a.Username != "" || a.Password != "" || a.AuthProvider != nil || a.Exec != nil
}
