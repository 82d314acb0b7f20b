package cli

import (
	"path/filepath"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TestDashboardCredentialsStayWithTheirContext: --token applies to the
// context selected when the dashboard started; a current-context changed
// meanwhile in the kubeconfig does not take it to another cluster.
func TestDashboardCredentialsStayWithTheirContext(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	write := func(current string) {
		cfg := clientcmdapi.NewConfig()
		for _, name := range []string{"a", "b"} {
			cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "https://" + name + ".example"}
			cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: name + "-token"}
			cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
		}
		cfg.CurrentContext = current
		if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
			t.Fatal(err)
		}
	}
	write("a")
	flags := genericclioptions.NewConfigFlags(false)
	*flags.KubeConfig = kubeconfig
	*flags.BearerToken = "cli"
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	store := (&env{flags: flags, streams: streams}).clusterStore(filepath.Join(dir, "clusters.yaml"))
	if err := store.Add("b"); err != nil { // both shown
		t.Fatal(err)
	}

	write("b") // kubectl config use-context b, in another terminal
	list, eps, err := store.Clusters()
	if err != nil {
		t.Fatal(err)
	}
	if list.Primary != "a" {
		t.Errorf("primary %q after the current context changed, want a, selected at start", list.Primary)
	}
	if len(eps) != 2 || eps["b"].Config == nil {
		t.Fatalf("endpoints %v, want a's and b's", eps)
	}
	for name, ep := range eps {
		if ep.Config == nil {
			continue
		}
		if got := ep.Config.BearerToken; (name == "a") != (got == "cli") {
			t.Errorf("context %s (%s) gets token %q; only a gets the command line's", name, ep.Config.Host, got)
		}
	}
}
