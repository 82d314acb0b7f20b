package budget

import (
	"math"
	"testing"
	"time"

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
		existing := map[types.UID]bool{}
		for _, vm := range step.current {
			existing[vm.UID] = true
		}
		if got := ledger(st, step.current, existing, nil, 0); got != step.want {
			t.Fatalf("reading %d: spent %g, want %g (status %+v)", i, got, step.want, st)
		}
	}
}

// TestLedgerCountsAVMThatComesBackOnce: a VM relabelled out of the scope
// and back counts its month to date once, not once more for each time it
// left; one deleted while out keeps what it had spent.
func TestLedgerCountsAVMThatComesBackOnce(t *testing.T) {
	st := &v1alpha1.BudgetStatus{}
	vm := func(name, uid string, spent float64) v1alpha1.BudgetVMSpend {
		return v1alpha1.BudgetVMSpend{Name: name, UID: types.UID(uid), MonthToDate: spent}
	}
	all := map[types.UID]bool{"u1": true, "u2": true}
	for i, step := range []struct {
		current  []v1alpha1.BudgetVMSpend
		existing map[types.UID]bool
		want     float64
	}{
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 50), vm("web", "u2", 10)}, all, 60},
		// db relabelled out: its 50 stays.
		{[]v1alpha1.BudgetVMSpend{vm("web", "u2", 11)}, all, 61},
		// and back, having spent 5 more meanwhile: its month to date
		// counts, once.
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 55), vm("web", "u2", 12)}, all, 67},
		// out and back again.
		{[]v1alpha1.BudgetVMSpend{vm("web", "u2", 13)}, all, 68},
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 57), vm("web", "u2", 14)}, all, 71},
		// web relabelled out, then deleted: its 14 stays.
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 58)}, all, 72},
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 59)}, map[types.UID]bool{"u1": true}, 73},
	} {
		if got := ledger(st, step.current, step.existing, nil, 0); got != step.want {
			t.Fatalf("reading %d: spent %g, want %g (status %+v)", i, got, step.want, st)
		}
	}
	if len(st.OutOfScope) != 0 {
		t.Errorf("VMs out of scope %+v after the only one left was deleted, want none", st.OutOfScope)
	}
}

// TestLedgerNeverFallsBack: a VM's month to date read lower than before
// (the store's retention cut the month's first days) keeps the higher
// figure, in scope and after coming back into it.
func TestLedgerNeverFallsBack(t *testing.T) {
	st := &v1alpha1.BudgetStatus{}
	vm := func(name, uid string, spent float64) v1alpha1.BudgetVMSpend {
		return v1alpha1.BudgetVMSpend{Name: name, UID: types.UID(uid), MonthToDate: spent}
	}
	all := map[types.UID]bool{"u1": true, "u2": true}
	for i, step := range []struct {
		current []v1alpha1.BudgetVMSpend
		want    float64
	}{
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 95), vm("web", "u2", 10)}, 105},
		// The store forgot the month's first days.
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 40), vm("web", "u2", 11)}, 106},
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 96), vm("web", "u2", 12)}, 108},
		// db relabelled out, and back with a shorter memory.
		{[]v1alpha1.BudgetVMSpend{vm("web", "u2", 13)}, 109},
		{[]v1alpha1.BudgetVMSpend{vm("db", "u1", 50), vm("web", "u2", 14)}, 110},
	} {
		if got := ledger(st, step.current, all, nil, 0); got != step.want {
			t.Fatalf("reading %d: spent %g, want %g (status %+v)", i, got, step.want, st)
		}
	}
}

// TestLedgerGrowsPastTheStoresRetention: from about the 16th, with
// Prometheus' 15 days, a VM that costs the same every day reads the same
// month to date every time (the window slides); the ledger adds what it
// costs per hour since the last reading, as long as that was lately, so
// the budget's spend keeps growing with the month.
func TestLedgerGrowsPastTheStoresRetention(t *testing.T) {
	st := &v1alpha1.BudgetStatus{VirtualMachines: []v1alpha1.BudgetVMSpend{{Name: "db", UID: "u1", MonthToDate: 15}}}
	all := map[types.UID]bool{"u1": true}
	flat := []v1alpha1.BudgetVMSpend{{Name: "db", UID: "u1", MonthToDate: 15}}
	rates := map[types.UID]float64{"u1": 1} // $1 an hour
	for i, step := range []struct {
		since time.Duration
		want  float64
	}{
		{30 * time.Minute, 15.5},
		{30 * time.Minute, 16},
		// After a gap longer than maxExtrapolation only readings count.
		{3 * time.Hour, 16},
	} {
		if got := ledger(st, flat, all, rates, step.since); math.Abs(got-step.want) > 1e-9 {
			t.Errorf("reading %d, %s after the last: spent %g, want %g", i, step.since, got, step.want)
		}
	}
}
