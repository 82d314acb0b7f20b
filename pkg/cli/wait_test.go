package cli

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

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
