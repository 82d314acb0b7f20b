package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/pkg/dashboard"
	"github.com/hypersdk/hypersdk/pkg/tlsserve"
)

// clusterStore is the clusters file the flags name, checked against the
// user's kubeconfig; the connection flags apply as kubectl applies them.
func (e *env) clusterStore(path string) *dashboard.ClusterStore {
	f := e.flags
	// The context the command line's credentials go to is the one selected
	// now: the kubeconfig is read again while the dashboard runs, and a
	// current-context changed meanwhile (kubectl config use-context in
	// another terminal) must not take --token and the like to another
	// cluster.
	context := ptr.Deref(f.Context, "")
	if context == "" {
		if raw, err := f.ToRawKubeConfigLoader().RawConfig(); err == nil {
			context = raw.CurrentContext
		}
	}
	fresh := func() clientcmd.ClientConfig { return e.freshKubeconfig(context) }
	store := &dashboard.ClusterStore{Path: path, Kubeconfig: fresh, Context: context,
		Impersonation: clientcmdapi.AuthInfo{Impersonate: ptr.Deref(f.Impersonate, ""), ImpersonateUID: ptr.Deref(f.ImpersonateUID, "")}}
	if f.ImpersonateGroup != nil {
		store.Impersonation.ImpersonateGroups = *f.ImpersonateGroup
	}
	if f.ImpersonateUserExtra != nil {
		for _, kv := range *f.ImpersonateUserExtra {
			k, v, _ := strings.Cut(kv, "=")
			if store.Impersonation.ImpersonateUserExtra == nil {
				store.Impersonation.ImpersonateUserExtra = map[string][]string{}
			}
			store.Impersonation.ImpersonateUserExtra[k] = append(store.Impersonation.ImpersonateUserExtra[k], v)
		}
	}
	return store
}

// freshKubeconfig loads the kubeconfig anew with the command line's flags
// (e.flags keeps the first it loads, and the dashboard reads it again as it
// runs): a loader of flags that keep nothing, set as e.flags are.
func (e *env) freshKubeconfig(context string) clientcmd.ClientConfig {
	f, g := genericclioptions.NewConfigFlags(false), e.flags
	f.KubeConfig, f.ClusterName, f.AuthInfoName, f.Context, f.Namespace = g.KubeConfig, g.ClusterName, g.AuthInfoName, &context, g.Namespace
	f.APIServer, f.TLSServerName, f.Insecure, f.CAFile, f.ProxyURL = g.APIServer, g.TLSServerName, g.Insecure, g.CAFile, g.ProxyURL
	f.CertFile, f.KeyFile, f.BearerToken, f.Username, f.Password = g.CertFile, g.KeyFile, g.BearerToken, g.Username, g.Password
	f.Impersonate, f.ImpersonateUID, f.ImpersonateGroup, f.ImpersonateUserExtra = g.Impersonate, g.ImpersonateUID, g.ImpersonateGroup, g.ImpersonateUserExtra
	f.Timeout, f.DisableCompression = g.Timeout, g.DisableCompression
	return f.ToRawKubeConfigLoader()
}

// serveDashboard runs the dashboard on a loopback address until ctx ends.
func (e *env) serveDashboard(ctx context.Context, store *dashboard.ClusterStore, address string, port int) error {
	if !dashboard.IsLoopback(address) {
		return fmt.Errorf("--address %s: the dashboard uses your credentials and listens on loopback only "+
			"(run it in the cluster from artifacts/dashboard to share it)", address)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	srv := &dashboard.Server{Source: store, Token: base64.RawURLEncoding.EncodeToString(secret),
		Resync: 2 * time.Second, Probe: 10 * time.Second}
	ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv.Start(ctx)
	httpServer := &http.Server{Handler: srv.Handler(dashboard.UI()), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.streams.Out, "Dashboard: http://%s/?token=%s\n", ln.Addr(), srv.Token)
	return tlsserve.Serve(ctx, httpServer, ln, 5*time.Second)
}

func newClustersCommand(e *env) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:     "clusters",
		Aliases: []string{"cluster"},
		Short:   "The clusters kubectl hyper dashboard shows: kubeconfig contexts, one of them primary",
		Long: `The clusters kubectl hyper dashboard shows are kubeconfig contexts, listed in
a clusters file that a running dashboard re-reads: add, remove and use take
effect there within seconds. Without the file, the current context is the
only cluster.`,
	}
	cmd.PersistentFlags().StringVar(&path, "clusters-file", dashboard.DefaultClustersFile(), "The list of clusters the dashboard shows.")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the clusters, the primary first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := e.clusterStore(path).Load()
			if err != nil {
				return err
			}
			out := newOutput()
			rows := make([]any, 0, len(l.Contexts))
			for _, c := range l.Contexts {
				rows = append(rows, [2]string{c, map[bool]string{true: "*"}[c == l.Primary]})
			}
			return out.printRows(e.streams.Out, rows, columns{names: []string{"CONTEXT", "PRIMARY"},
				row: func(item any, _ bool) []any { r := item.([2]string); return []any{r[0], r[1]} }}, nil)
		},
	}
	change := func(use, short, done string, f func(*dashboard.ClusterStore, string) error) *cobra.Command {
		return &cobra.Command{
			Use:   use + " CONTEXT",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := f(e.clusterStore(path), args[0]); err != nil {
					return err
				}
				_, err := fmt.Fprintf(e.streams.Out, "cluster %s %s\n", args[0], done)
				return err
			},
		}
	}
	cmd.AddCommand(list,
		change("add", "Show a kubeconfig context's cluster", "added", (*dashboard.ClusterStore).Add),
		change("remove", "Stop showing a cluster", "removed", (*dashboard.ClusterStore).Remove),
		change("use", "Make a shown cluster the primary one", "is primary", (*dashboard.ClusterStore).Use))
	return cmd
}
