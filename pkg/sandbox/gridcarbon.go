package sandbox

import (
	"context"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// CarbonConfigMap holds the replayed grid carbon intensity of each zone at
// the simulated now, for people and tools that look at the sandbox.
const CarbonConfigMap = "grid-carbon-intensity"

// publishCarbon writes every zone's current intensity to the ConfigMap once a
// real second, until ctx ends.
func publishCarbon(ctx context.Context, client kubernetes.Interface, provider carbon.Provider) {
	logger := klog.FromContext(ctx).WithValues("component", "carbon-replay")
	cms := client.CoreV1().ConfigMaps(systemNamespace)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last map[string]string
	for {
		data := map[string]string{"signal": "direct (location-based), gCO2eq/kWh", "source": "Electricity Maps hourly traces"}
		for _, zone := range fleet.Zones {
			in, err := provider.Current(ctx, zone)
			if err != nil {
				logger.Error(err, "Replaying carbon intensity", "zone", zone)
				continue
			}
			data[zone] = strconv.FormatFloat(in.GramsPerKWh, 'f', 2, 64)
			data["hour"] = in.At.UTC().Format(time.RFC3339)
		}
		if !equalMaps(data, last) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: CarbonConfigMap, Namespace: systemNamespace}, Data: data}
			_, err := cms.Update(ctx, cm, metav1.UpdateOptions{})
			if apierrors.IsNotFound(err) {
				_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			}
			if err != nil && ctx.Err() == nil {
				logger.Error(err, "Publishing carbon intensity")
			} else {
				last = data
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
