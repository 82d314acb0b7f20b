package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Source says which clusters the dashboard shows and how to reach each:
// kubeconfig contexts in local mode (ClusterStore), Secrets in in-cluster
// mode (SecretSource).
type Source interface {
	// Clusters lists the shown clusters, with an Endpoint for each.
	Clusters() (ClusterList, map[string]Endpoint, error)
	// Add, Remove and Use change the list; a source that is changed
	// elsewhere answers ErrReadOnly.
	Add(name string) error
	Remove(name string) error
	Use(name string) error
}

// Endpoint is how one cluster is reached, or why it cannot be.
type Endpoint struct {
	Config *rest.Config
	Err    error
	// Revision changes when the endpoint does, so the dashboard knows to
	// make a new proxy for it.
	Revision string
}

// ErrReadOnly is the answer of a source whose clusters are changed
// elsewhere, not through the dashboard.
var ErrReadOnly = errors.New("the clusters cannot be changed from the dashboard")

// ErrNotShown is the answer about a cluster the list does not have.
var ErrNotShown = errors.New("not shown")

// Clusters is the clusters file's list, each context's configuration from
// the user's kubeconfig.
func (s *ClusterStore) Clusters() (ClusterList, map[string]Endpoint, error) {
	l, err := s.Load()
	if err != nil {
		return ClusterList{}, nil, err
	}
	loader := s.Kubeconfig()
	raw, err := loader.RawConfig()
	if err != nil {
		return ClusterList{}, nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	out := make(map[string]Endpoint, len(l.Contexts))
	for _, name := range l.Contexts {
		cfg, err := s.contextConfig(loader, raw, name).ClientConfig()
		if err != nil {
			err = fmt.Errorf("kubeconfig context %s: %w", name, err)
		}
		out[name] = Endpoint{Config: cfg, Err: err, Revision: contextRevision(raw, name)}
	}
	return l, out, nil
}

// contextRevision fingerprints the kubeconfig entries a context's client is
// made from (the context, its cluster and its user), so a running dashboard
// rebuilds the cluster when they change: a context pointed at another
// server, or one fixed after it failed.
func contextRevision(raw clientcmdapi.Config, name string) string {
	c := raw.Contexts[name]
	entries := []any{c}
	if c != nil {
		entries = append(entries, raw.Clusters[c.Cluster], raw.AuthInfos[c.AuthInfo])
	}
	data, err := json.Marshal(entries)
	if err != nil {
		data = []byte(err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
