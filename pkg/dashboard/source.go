package dashboard

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
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

// Clusters is the clusters file's list, each context's configuration from
// the user's kubeconfig.
func (s *ClusterStore) Clusters() (ClusterList, map[string]Endpoint, error) {
	l, err := s.Load()
	if err != nil {
		return ClusterList{}, nil, err
	}
	raw, err := s.Kubeconfig.RawConfig()
	if err != nil {
		return ClusterList{}, nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	out := make(map[string]Endpoint, len(l.Contexts))
	for _, name := range l.Contexts {
		cfg, err := s.contextConfig(raw, name).ClientConfig()
		if err != nil {
			err = fmt.Errorf("kubeconfig context %s: %w", name, err)
		}
		out[name] = Endpoint{Config: cfg, Err: err}
	}
	return l, out, nil
}
