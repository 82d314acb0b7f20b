package virtualmachine

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/viewcache"
)

// TestNoAnswerBeforeTheViewIsListed: until KubeVirt's VMs and instances
// have both been listed, a list, a watch and a get answer 503, not an
// empty list or a 404.
func TestNoAnswerBeforeTheViewIsListed(t *testing.T) {
	cache := NewCache()
	r := NewREST(runtime.NewScheme(), cache, currentWriter{}, nil)
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

// currentWriter is a Writer whose KubeVirt VirtualMachine is at version
// (or not there); it writes nothing.
type currentWriter struct {
	Writer
	version uint64
	exists  bool
}

func (w currentWriter) Current(context.Context, string, string) (uint64, bool, error) {
	return w.version, w.exists, nil
}

// TestAVMJustMadeIsNotAnswered404: a VM KubeVirt has that this replica's
// cache does not hold yet (made through another replica, or a watch behind)
// is answered once the cache holds it, not 404 (kubectl delete
// --ignore-not-found would leave it); one KubeVirt does not have is 404.
func TestAVMJustMadeIsNotAnswered404(t *testing.T) {
	ctx := genericapirequest.WithNamespace(context.Background(), "ns")
	for _, tc := range []struct {
		name   string
		writer currentWriter
		found  bool
	}{
		{"made through another replica", currentWriter{version: 5, exists: true}, true},
		{"not there", currentWriter{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := NewCache()
			for src := range kubevirt.ViewSources {
				if err := cache.Replace(src, nil, 1); err != nil {
					t.Fatal(err)
				}
			}
			r := NewREST(runtime.NewScheme(), cache, tc.writer, nil)
			go func() {
				// The watch event arrives after the get asked.
				time.Sleep(100 * time.Millisecond)
				vm := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm", ResourceVersion: "5"}}
				if tc.found {
					_ = cache.Apply(kubevirt.SourceVM, viewcache.Key("ns", "vm"), vm, false)
				}
			}()
			obj, err := r.Get(ctx, "vm", &metav1.GetOptions{})
			if found := err == nil; found != tc.found || !tc.found && !apierrors.IsNotFound(err) {
				t.Fatalf("get: %v (%v); want found %v, else 404", obj, err, tc.found)
			}
			if tc.found && obj.(*hypersdk.VirtualMachine).Name != "vm" {
				t.Errorf("get: %+v, want the VM", obj)
			}
		})
	}
}
