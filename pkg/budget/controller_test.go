package budget

import (
	"fmt"
	"math"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestAccount: the projection is the spend plus today's rate until the
// month's end, and each threshold is announced once a month.
func TestAccount(t *testing.T) {
	spec := v1alpha1.BudgetSpec{Amount: resource.MustParse("100"), Thresholds: []int32{50, 80, 100}}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) // 12 hours left in November
	st := &v1alpha1.BudgetStatus{Month: "2026-11"}

	if newly := account(st, spec, 40, 1, now); len(newly) != 0 || st.Percent != 40 || st.Projected != 52 {
		t.Errorf("40 spent: newly %v, status %+v; want nothing crossed, 40%%, 52 projected", newly, st)
	}
	if newly := account(st, spec, 85, 1, now.Add(time.Hour)); fmt.Sprint(newly) != "[50 80]" {
		t.Errorf("85 spent: newly crossed %v, want [50 80]", newly)
	}
	if newly := account(st, spec, 90, 1, now.Add(2*time.Hour)); len(newly) != 0 || fmt.Sprint(st.Crossed) != "[50 80]" {
		t.Errorf("90 spent: newly %v, crossed %v; want nothing new, [50 80]", newly, st.Crossed)
	}
	if newly := account(st, spec, 100, 2.5, now.Add(4*time.Hour)); fmt.Sprint(newly) != "[100]" || math.Abs(st.Projected-120) > 1e-9 {
		t.Errorf("100 spent at 2.5 per hour, 8 hours left: newly %v, projected %g; want [100], 120", newly, st.Projected)
	}
	// The amount raised to 200: 50% is still reached, 80 and 100 are not,
	// and are announced again when they are.
	spec.Amount = resource.MustParse("200")
	if newly := account(st, spec, 110, 1, now.Add(5*time.Hour)); len(newly) != 0 || fmt.Sprint(st.Crossed) != "[50]" {
		t.Errorf("110 of 200 spent: newly %v, crossed %v; want nothing new, [50]", newly, st.Crossed)
	}
	if newly := account(st, spec, 160, 1, now.Add(6*time.Hour)); fmt.Sprint(newly) != "[80]" {
		t.Errorf("160 of 200 spent: newly crossed %v, want [80]", newly)
	}
}
