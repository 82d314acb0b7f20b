package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
)

// TestFollowingAnOperationThatIsGone: an operation deleted before it is
// followed (its time to live passed) is NotFound at once, not a wait
// until the timeout for an event that never comes.
func TestFollowingAnOperationThatIsGone(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	w := &waitFlags{wait: true, timeout: 20 * time.Second}
	op := &v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "restart-1", Namespace: "ns"}}
	start := time.Now()
	err := w.follow(context.Background(), &env{streams: streams}, hyperfake.NewSimpleClientset(), op)
	if !apierrors.IsNotFound(err) {
		t.Errorf("following an operation that is gone: %v after %s, want NotFound", err, time.Since(start).Round(time.Millisecond))
	}
}

// TestTimeoutDuringTheFirstListSaysSo: --timeout passing while the first
// list is under way (a slow server) is told as giving up, the operation
// going on, as it is later; not as a connection error.
func TestTimeoutDuringTheFirstListSaysSo(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	w := &waitFlags{wait: true, timeout: 200 * time.Millisecond}
	hyper := hyperfake.NewSimpleClientset()
	hyper.PrependReactor("list", "vmoperations", func(k8stesting.Action) (bool, runtime.Object, error) {
		time.Sleep(400 * time.Millisecond) // a list slower than the timeout
		return true, nil, context.DeadlineExceeded
	})
	op := &v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "restart-1", Namespace: "ns"}}
	err := w.follow(context.Background(), &env{streams: streams}, hyper, op)
	if err == nil || !strings.Contains(err.Error(), "gave up after 200ms waiting for operation restart-1, which goes on") {
		t.Errorf("timeout during the first list: %v, want it told as giving up", err)
	}
}
