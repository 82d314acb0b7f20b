package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestCarbonReplay: each zone's published intensity is the real trace's
// value for the simulated hour, and it moves with simulated time.
func TestCarbonReplay(t *testing.T) {
	env.DumpLogsOnFailure(t)
	dir := filepath.Join(framework.RepoRoot(), "..", "shared", "data", "carbon")
	traces := map[string]*carbon.Trace{}
	for _, zone := range []string{"ES", "US-CAL-CISO", "NO"} {
		tr, err := carbon.LoadTraceFile(filepath.Join(dir, zone+"_2022_hourly.csv"), carbon.Direct)
		if err != nil {
			t.Fatal(err)
		}
		traces[zone] = tr
	}
	read := func(ctx context.Context) (map[string]string, error) {
		cm, err := env.Kube.CoreV1().ConfigMaps("hypersdk-system").Get(ctx, sandbox.CarbonConfigMap, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return cm.Data, nil
	}
	var first map[string]string
	framework.Eventually(t, "the carbon ConfigMap", func(ctx context.Context) (bool, error) {
		data, err := read(ctx)
		first = data
		return err == nil, err
	})
	hour, err := time.Parse(time.RFC3339, first["hour"])
	if err != nil {
		t.Fatalf("hour %q: %v", first["hour"], err)
	}
	for zone, tr := range traces {
		want, ok := tr.At(hour)
		got, err := strconv.ParseFloat(first[zone], 64)
		if !ok || err != nil || got != float64(int64(want*100+0.5))/100 {
			t.Errorf("%s at %s: published %q, trace has %.2f", zone, hour, first[zone], want)
		}
	}
	framework.Eventually(t, "the simulated hour to advance", func(ctx context.Context) (bool, error) {
		data, err := read(ctx)
		return err == nil && data["hour"] != first["hour"], err
	})
}
