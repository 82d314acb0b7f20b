package autoscaler

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

func TestInWindow(t *testing.T) {
	// Saturdays 02:00 for two hours; 2026-11-28 is a Saturday.
	w := []v1alpha1.MaintenanceWindow{{Schedule: "0 2 * * 6", Duration: metav1.Duration{Duration: 2 * time.Hour}}}
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2026-11-28T01:59:59Z", false},
		{"2026-11-28T02:00:00Z", true},
		{"2026-11-28T03:59:00Z", true},
		{"2026-11-28T04:00:00Z", false},
		{"2026-11-29T02:30:00Z", false},
	} {
		now, _ := time.Parse(time.RFC3339, tc.at)
		got, err := inWindow(now, w)
		if err != nil || got != tc.want {
			t.Errorf("inWindow(%s) = %v, %v; want %v", tc.at, got, err, tc.want)
		}
	}
	if got, _ := inWindow(time.Now(), nil); got {
		t.Error("no windows: never inside one")
	}
}
