package dashboard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// ClusterList is what the clusters file holds: the kubeconfig contexts the
// dashboard shows and which of them is primary (the one a widget without a
// cluster shows). `kubectl hyper clusters` and the dashboard both read and
// write it, so a change by either reaches a running dashboard.
type ClusterList struct {
	Primary  string   `json:"primary,omitempty"`
	Contexts []string `json:"contexts"`
}

// ClusterStore reads and changes the clusters file, checking contexts
// against the user's kubeconfig.
type ClusterStore struct {
	// Path is the clusters file.
	Path string
	// Kubeconfig loads the user's kubeconfig (--kubeconfig, KUBECONFIG or
	// ~/.kube/config, as kubectl does) with the command line's overrides
	// (--context, --server, --token, --as...), which are the selected
	// context's. Each call reads the files again: the dashboard follows
	// changes to them as it runs.
	Kubeconfig func() clientcmd.ClientConfig
	// Context is the context the command line selects (--context), "" for
	// the kubeconfig's current one: the primary when there is no clusters
	// file, and the one Kubeconfig's overrides apply to.
	Context string
	// Impersonation holds the command line's --as, --as-group, --as-uid and
	// --as-user-extra, which apply to every cluster: whom the user asked to
	// act as is who acts, whichever cluster a widget shows.
	Impersonation clientcmdapi.AuthInfo
}

// selected is the context the command line selects.
func (s *ClusterStore) selected(raw clientcmdapi.Config) string {
	if s.Context != "" {
		return s.Context
	}
	return raw.CurrentContext
}

// DefaultClustersFile is where kubectl hyper keeps the list unless told.
func DefaultClustersFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "hypersdk", "clusters.yaml")
}

// Load returns the list; without a file, the kubeconfig's current context
// alone, as primary.
func (s *ClusterStore) Load() (ClusterList, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		raw, err := s.Kubeconfig().RawConfig()
		if err != nil {
			return ClusterList{}, fmt.Errorf("reading kubeconfig: %w", err)
		}
		selected := s.selected(raw)
		if selected == "" {
			return ClusterList{}, nil
		}
		return ClusterList{Primary: selected, Contexts: []string{selected}}, nil
	}
	if err != nil {
		return ClusterList{}, fmt.Errorf("reading clusters file: %w", err)
	}
	var l ClusterList
	if err := yaml.UnmarshalStrict(data, &l); err != nil {
		return ClusterList{}, fmt.Errorf("clusters file %s: %w", s.Path, err)
	}
	return l, nil
}

// Add puts a kubeconfig context among the clusters; the first one added
// becomes primary.
func (s *ClusterStore) Add(context string) error {
	raw, err := s.Kubeconfig().RawConfig()
	if err != nil {
		return fmt.Errorf("reading kubeconfig: %w", err)
	}
	if _, ok := raw.Contexts[context]; !ok {
		return fmt.Errorf("no context %q in the kubeconfig (kubectl config get-contexts lists them)", context)
	}
	return s.change(func(l *ClusterList) error {
		if slices.Contains(l.Contexts, context) {
			return fmt.Errorf("cluster %q is already shown", context)
		}
		l.Contexts = append(l.Contexts, context)
		if l.Primary == "" {
			l.Primary = context
		}
		return nil
	})
}

// Remove takes a context off the clusters; removing the primary makes the
// first remaining one primary.
func (s *ClusterStore) Remove(context string) error {
	return s.change(func(l *ClusterList) error {
		i := slices.Index(l.Contexts, context)
		if i < 0 {
			return fmt.Errorf("cluster %q: %w", context, ErrNotShown)
		}
		l.Contexts = slices.Delete(l.Contexts, i, i+1)
		if l.Primary == context {
			l.Primary = ""
			if len(l.Contexts) > 0 {
				l.Primary = l.Contexts[0]
			}
		}
		return nil
	})
}

// Use makes a shown cluster primary.
func (s *ClusterStore) Use(context string) error {
	return s.change(func(l *ClusterList) error {
		if !slices.Contains(l.Contexts, context) {
			return fmt.Errorf("cluster %q: %w: add it first", context, ErrNotShown)
		}
		l.Primary = context
		return nil
	})
}

// change applies f to the list and writes it whole, by rename, so a reader
// never sees half a file.
func (s *ClusterStore) change(f func(*ClusterList) error) error {
	l, err := s.Load()
	if err != nil {
		return err
	}
	if err := f(&l); err != nil {
		return err
	}
	data, err := yaml.Marshal(l)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("writing clusters file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".clusters-*")
	if err != nil {
		return fmt.Errorf("writing clusters file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing clusters file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing clusters file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("writing clusters file: %w", err)
	}
	return nil
}

// contextConfig is the client configuration of context: loader, with all
// the command line's overrides, for the context it selects; raw with the
// command line's impersonation alone for the others.
func (s *ClusterStore) contextConfig(loader clientcmd.ClientConfig, raw clientcmdapi.Config, context string) clientcmd.ClientConfig {
	if context == s.selected(raw) {
		return loader
	}
	return clientcmd.NewNonInteractiveClientConfig(raw, context, &clientcmd.ConfigOverrides{AuthInfo: s.Impersonation}, nil)
}
