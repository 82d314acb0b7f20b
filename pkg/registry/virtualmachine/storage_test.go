package virtualmachine

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// TestNoAnswerBeforeTheViewIsListed: until KubeVirt's VMs and instances
// have both been listed, a list, a watch and a get answer 503, not an
// empty list or a 404.
func TestNoAnswerBeforeTheViewIsListed(t *testing.T) {
	cache := NewCache()
	r := NewREST(runtime.NewScheme(), cache, nil, nil)
	ctx := genericapirequest.WithNamespace(context.Background(), "ns")
	check := func(what string, err error) {
		t.Helper()
		if !apierrors.IsServiceUnavailable(err) {
			t.Errorf("%s before the view is listed: %v, want 503", what, err)
		}
	}
	_, err := r.List(ctx, nil)
	check("list", err)
	_, err = r.Watch(ctx, nil)
	check("watch", err)
	_, err = r.Get(ctx, "vm", &metav1.GetOptions{})
	check("get", err)

	// Listed: an empty list and a 404.
	for src := range kubevirt.ViewSources {
		if err := cache.Replace(src, nil, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.List(ctx, nil); err != nil {
		t.Errorf("list once listed: %v", err)
	}
	if _, err := r.Get(ctx, "vm", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get of a VM that is not there once listed: %v, want 404", err)
	}
}
