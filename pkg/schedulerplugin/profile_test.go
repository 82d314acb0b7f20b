package schedulerplugin

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/hypersdk/hypersdk/artifacts"
)

// extensionPoints stands in for the plugin with the same extension points:
// how kube-scheduler orders plugins depends on the configuration and on
// which interfaces a plugin implements, not on what it does.
type extensionPoints struct{}

func (extensionPoints) Name() string { return Name }
func (extensionPoints) PreFilter(context.Context, fwk.CycleState, *corev1.Pod, []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	return nil, nil
}
func (extensionPoints) PreFilterExtensions() fwk.PreFilterExtensions { return nil }
func (extensionPoints) Filter(context.Context, fwk.CycleState, *corev1.Pod, fwk.NodeInfo) *fwk.Status {
	return nil
}
func (extensionPoints) PreScore(context.Context, fwk.CycleState, *corev1.Pod, []fwk.NodeInfo) *fwk.Status {
	return nil
}
func (extensionPoints) Score(context.Context, fwk.CycleState, *corev1.Pod, fwk.NodeInfo) (int64, *fwk.Status) {
	return 0, nil
}
func (extensionPoints) ScoreExtensions() fwk.ScoreExtensions { return nil }
func (extensionPoints) Reserve(context.Context, fwk.CycleState, *corev1.Pod, string) *fwk.Status {
	return nil
}
func (extensionPoints) Unreserve(context.Context, fwk.CycleState, *corev1.Pod, string) {}
func (extensionPoints) Bind(context.Context, fwk.CycleState, *corev1.Pod, string) *fwk.Status {
	return nil
}

var (
	_ fwk.PreFilterPlugin = extensionPoints{}
	_ fwk.FilterPlugin    = extensionPoints{}
	_ fwk.PreScorePlugin  = extensionPoints{}
	_ fwk.ScorePlugin     = extensionPoints{}
	_ fwk.ReservePlugin   = extensionPoints{}
	_ fwk.BindPlugin      = extensionPoints{}
)

// TestShippedProfileRunsThePluginFirst builds kube-scheduler's framework
// from the profile artifacts ship, with its defaults: HyperSDKPlacement
// comes first at filter (so a spot node is ruled out before the default
// filters run on it), keeps its score weight, binds before DefaultBinder,
// and every default filter is still there.
func TestShippedProfileRunsThePluginFirst(t *testing.T) {
	data, err := artifacts.FS.ReadFile("deploy/components/scheduler-plugin/scheduler-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := scheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("decoding the shipped configuration: %v", err)
	}
	cfg, ok := obj.(*config.KubeSchedulerConfiguration)
	if !ok || len(cfg.Profiles) != 1 {
		t.Fatalf("decoded %T with profiles %+v, want one profile", obj, cfg)
	}
	metrics.Register() // the framework counts plugins in kube-scheduler's metrics
	registry := plugins.NewInTreeRegistry()
	if err := registry.Register(Name, func(context.Context, runtime.Object, fwk.Handle) (fwk.Plugin, error) {
		return extensionPoints{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := frameworkruntime.NewFramework(ctx, registry, &cfg.Profiles[0],
		frameworkruntime.WithClientSet(client), frameworkruntime.WithInformerFactory(informers.NewSharedInformerFactory(client, 0)),
		frameworkruntime.WithSnapshotSharedLister(cache.NewEmptySnapshot()))
	if err != nil {
		t.Fatalf("building the framework: %v", err)
	}
	got := f.ListPlugins()
	filters := got.Filter.Enabled
	if len(filters) < 2 || filters[0].Name != Name {
		t.Errorf("filters run in the order %v, want %s first", filters, Name)
	}
	for _, want := range []string{"NodeResourcesFit", "NodeAffinity", "TaintToleration"} {
		found := false
		for _, p := range filters {
			found = found || p.Name == want
		}
		if !found {
			t.Errorf("filter %s missing from %v", want, filters)
		}
	}
	var weight int32
	for _, p := range got.Score.Enabled {
		if p.Name == Name {
			weight = p.Weight
		}
	}
	if weight != 20 {
		t.Errorf("score weight %d, want 20: %v", weight, got.Score.Enabled)
	}
	if binds := got.Bind.Enabled; len(binds) != 2 || binds[0].Name != Name || binds[1].Name != "DefaultBinder" {
		t.Errorf("binds %v, want %s then DefaultBinder", binds, Name)
	}
}
