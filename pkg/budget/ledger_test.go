package budget

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestLedgerKeepsWhatDepartedVMsSpent: a VM deleted (or relabelled out of
// the scope) keeps counting what it had spent for the rest of the month;
// a VM made again under its name is another VM.
func TestLedgerKeepsWhatDepartedVMsSpent(t *testing.T) {
	st := &v1alpha1.BudgetStatus{}
	vm := func(name, uid string, spent float64) v1alpha1.BudgetVMSpend {
		return v1alpha1.BudgetVMSpend{Name: name, UID: types.UID(uid), MonthToDate: spent}
	}
	for i, step := range []struct {
		current []v1alpha1.BudgetVMSpend
		want    float64
	}{
		{[]v1alpha1.BudgetVMSpend{vm("big", "u1", 95), vm("small", "u2", 6)}, 101},
		// big deleted: its 95 stays.
		{[]v1alpha1.BudgetVMSpend{vm("small", "u2", 7)}, 102},
		// big made again: a new VM, counted from nothing.
		{[]v1alpha1.BudgetVMSpend{vm("big", "u3", 1), vm("small", "u2", 8)}, 104},
		{[]v1alpha1.BudgetVMSpend{vm("big", "u3", 2), vm("small", "u2", 9)}, 106},
	} {
		if got := ledger(st, step.current); got != step.want {
			t.Fatalf("reading %d: spent %g, want %g (status %+v)", i, got, step.want, st)
		}
	}
}
