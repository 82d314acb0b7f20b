// Package passloop runs a controller that works in periodic passes over
// its objects, with an event recorder for the events it writes about them.
package passloop

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

// Run gives use a recorder whose events come from component, then runs
// pass every interval until ctx ends; a failed pass is logged and the next
// one runs on time.
func Run(ctx context.Context, kube kubernetes.Interface, component string, interval time.Duration,
	use func(record.EventRecorder), pass func(context.Context) error) error {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	use(broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: component}))
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := pass(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "Pass failed", "component", component)
		}
	}, interval)
	return nil
}
