package budget

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
)

// TestNewMonthUnreadCarriesNothingOver: at the first pass of a month whose
// spend cannot be read, the budget shows none of the last month's figures
// as this month's, and does not say it is exceeded.
func TestNewMonthUnreadCarriesNothingOver(t *testing.T) {
	b := &v1alpha1.Budget{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns", Generation: 1},
		Spec: v1alpha1.BudgetSpec{Amount: resource.MustParse("100")},
		Status: v1alpha1.BudgetStatus{Month: "2026-11", Spent: 120, Percent: 120, Projected: 130, CostPerHour: 0.5, Crossed: []int32{50, 80, 100},
			VirtualMachines: []v1alpha1.BudgetVMSpend{{Name: "vm", MonthToDate: 120}},
			Conditions: []metav1.Condition{{Type: ConditionExceeded, Status: metav1.ConditionTrue, Reason: "BudgetSpent",
				Message: "120 of 100 spent in 2026-11"}}}}
	hyper := hyperfake.NewSimpleClientset(b)
	hyper.PrependReactor("list", "virtualmachines", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("hypersdk-apiserver is restarting")
	})
	k, err := New(Config{HyperSDK: hyper, Clock: clocktesting.NewFakeClock(time.Date(2026, 12, 1, 0, 5, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reports := map[string]*v1alpha1.CostReport{"ns": {}}
	if _, err := k.sync(ctx, b, reports); err == nil {
		t.Fatal("sync: no error, want the failed VM list")
	}
	got, err := hyper.HypersdkV1alpha1().Budgets("ns").Get(ctx, "team", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := got.Status
	if st.Month != "2026-12" || st.Spent != 0 || st.Percent != 0 || st.Projected != 0 || st.CostPerHour != 0 || len(st.Crossed) != 0 || len(st.VirtualMachines) != 0 {
		t.Errorf("status of a new month not read yet: %+v, want 2026-12 and no figures", st)
	}
	if c := meta.FindStatusCondition(st.Conditions, ConditionExceeded); c == nil || c.Status != metav1.ConditionUnknown {
		t.Errorf("Exceeded in a new month not read yet: %+v, want Unknown", c)
	}
}

// TestReportMonthDecides: a cost report made before midnight, and reused
// in the same pass after it, is last month's spend: it does not start the
// new month with last month's figures.
func TestReportMonthDecides(t *testing.T) {
	b := &v1alpha1.Budget{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns", Generation: 1},
		Spec:   v1alpha1.BudgetSpec{Amount: resource.MustParse("100"), Thresholds: []int32{80}},
		Status: v1alpha1.BudgetStatus{Month: "2026-11", Spent: 70, Percent: 70}}
	vm := &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "u1"}}
	hyper := hyperfake.NewSimpleClientset(b, vm)
	k, err := New(Config{HyperSDK: hyper, Clock: clocktesting.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	events := record.NewFakeRecorder(10)
	k.recorder = events
	ctx := context.Background()
	reports := map[string]*v1alpha1.CostReport{"ns": {GeneratedAt: metav1.NewTime(time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)),
		VirtualMachines: []v1alpha1.VirtualMachineCostEntry{{Name: "vm", Amounts: v1alpha1.CostAmounts{MonthToDate: 90}}}}}
	if _, err := k.sync(ctx, b, reports); err != nil {
		t.Fatal(err)
	}
	got, err := hyper.HypersdkV1alpha1().Budgets("ns").Get(ctx, "team", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.Status; st.Month != "2026-11" || st.Spent != 90 || !slices.Equal(st.Crossed, []int32{80}) {
		t.Errorf("status %+v, want 90 spent in 2026-11, 80%% crossed", st)
	}
	if len(events.Events) != 1 {
		t.Errorf("%d events, want the one crossing of 80%% in 2026-11", len(events.Events))
	}
}

// TestEnforceOffLiftsARefusalWhileUnread: a refusal stays while the spend
// cannot be read, but not once the budget's author turned enforce off.
func TestEnforceOffLiftsARefusalWhileUnread(t *testing.T) {
	for _, enforce := range []bool{true, false} {
		b := &v1alpha1.Budget{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns", Generation: 2},
			Spec: v1alpha1.BudgetSpec{Amount: resource.MustParse("100"), Enforce: enforce},
			Status: v1alpha1.BudgetStatus{Month: "2026-12", Spent: 120, Conditions: []metav1.Condition{{Type: ConditionEnforced,
				Status: metav1.ConditionTrue, Reason: "NewVMsRefused"}}}}
		if refusing := syncUnread(t, b); refusing != enforce {
			t.Errorf("enforce %v, spend unread: refusal kept %v, want %v", enforce, refusing, enforce)
		}
	}
}

// syncUnread runs a pass over b, on 7 December, whose VMs cannot be listed
// (the spend unread), and reports whether b's refusal is to stay.
func syncUnread(t *testing.T, b *v1alpha1.Budget) bool {
	t.Helper()
	hyper := hyperfake.NewSimpleClientset(b)
	hyper.PrependReactor("list", "virtualmachines", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("hypersdk-apiserver is restarting")
	})
	k, err := New(Config{Kube: fake.NewClientset(), HyperSDK: hyper, Clock: clocktesting.NewFakeClock(time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	k.recorder = record.NewFakeRecorder(10)
	refusing, _ := k.sync(context.Background(), b, map[string]*v1alpha1.CostReport{"ns": {}})
	return refusing
}

// TestAFailedRefusalStaysWhileUnread: the last pass found the budget spent
// but could not update its refusal (RefusalFailed, the one in place kept);
// a pass that cannot read the spend keeps it too, rather than sweep it.
func TestAFailedRefusalStaysWhileUnread(t *testing.T) {
	b := &v1alpha1.Budget{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns", Generation: 2},
		Spec: v1alpha1.BudgetSpec{Amount: resource.MustParse("100"), Enforce: true},
		Status: v1alpha1.BudgetStatus{Month: "2026-12", Spent: 120, Conditions: []metav1.Condition{{Type: ConditionEnforced,
			Status: metav1.ConditionFalse, Reason: "RefusalFailed"}}}}
	if refusing := syncUnread(t, b); !refusing {
		t.Error("spent, refusal update failed, spend now unread: refusal swept, want it kept")
	}
}

// TestThresholdAnnouncedOnceWhenAStatusWriteFails: a pass whose status
// write fails (a conflict with a spec edit) did not record the crossing,
// so it announced nothing; the next pass records and announces it, once.
func TestThresholdAnnouncedOnceWhenAStatusWriteFails(t *testing.T) {
	b := &v1alpha1.Budget{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns", Generation: 1},
		Spec:   v1alpha1.BudgetSpec{Amount: resource.MustParse("100"), Thresholds: []int32{80}},
		Status: v1alpha1.BudgetStatus{Month: "2026-12"}}
	vm := &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "u1"}}
	hyper := hyperfake.NewSimpleClientset(b, vm)
	failed := false
	hyper.PrependReactor("update", "budgets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && !failed {
			failed = true
			return true, nil, errors.New("the object has been modified")
		}
		return false, nil, nil
	})
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	k, err := New(Config{Kube: fake.NewClientset(), HyperSDK: hyper, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	events := record.NewFakeRecorder(10)
	k.recorder = events
	report := func() map[string]*v1alpha1.CostReport {
		return map[string]*v1alpha1.CostReport{"ns": {GeneratedAt: metav1.NewTime(now),
			VirtualMachines: []v1alpha1.VirtualMachineCostEntry{{Name: "vm", Amounts: v1alpha1.CostAmounts{MonthToDate: 90}}}}}
	}
	if _, err := k.sync(context.Background(), b, report()); err == nil {
		t.Fatal("first pass: no error, want the failed status write")
	}
	if _, err := k.sync(context.Background(), b, report()); err != nil {
		t.Fatal(err)
	}
	if len(events.Events) != 1 {
		t.Errorf("%d events, want the crossing of 80%% announced once", len(events.Events))
	}
}

// TestSpendCutByTheStoresRetentionIsSaid: a budget that first reads the
// month's spend once the history store no longer keeps the month's first
// days says from when it counts (countedFrom, Ready SpendPartial), for the
// rest of the month; one that has read it every pass since carries it.
func TestSpendCutByTheStoresRetentionIsSaid(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	from := metav1.NewTime(now.Add(-15 * 24 * time.Hour))
	for _, tc := range []struct {
		name    string
		last    *metav1.Time
		inScope types.UID // at the last reading
		partial bool
	}{
		{"first reading of the month", nil, "", true},
		{"read a minute ago", &metav1.Time{Time: now.Add(-time.Minute)}, "u1", false},
		{"read two hours ago", &metav1.Time{Time: now.Add(-2 * time.Hour)}, "u1", true},
		{"read a minute ago, the VM new to the scope", &metav1.Time{Time: now.Add(-time.Minute)}, "u2", true},
		{"read a minute ago, the VM back in the scope", &metav1.Time{Time: now.Add(-time.Minute)}, "out:u1", false},
	} {
		b := &v1alpha1.Budget{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns", Generation: 1},
			Spec: v1alpha1.BudgetSpec{Amount: resource.MustParse("100")}}
		if tc.last != nil {
			b.Status = v1alpha1.BudgetStatus{Month: "2026-11", Spent: 40, LastUpdateTime: tc.last,
				VirtualMachines: []v1alpha1.BudgetVMSpend{{Name: "vm", UID: tc.inScope, MonthToDate: 40}}}
			if uid, out := strings.CutPrefix(string(tc.inScope), "out:"); out { // relabelled out of the scope, then back
				b.Status.VirtualMachines, b.Status.OutOfScope = nil, []v1alpha1.BudgetVMSpend{{Name: "vm", UID: types.UID(uid), MonthToDate: 40}}
			}
		}
		vm := &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "u1"}}
		hyper := hyperfake.NewSimpleClientset(b, vm)
		k, err := New(Config{HyperSDK: hyper, Clock: clocktesting.NewFakeClock(now)})
		if err != nil {
			t.Fatal(err)
		}
		k.recorder = record.NewFakeRecorder(10)
		ctx := context.Background()
		reports := map[string]*v1alpha1.CostReport{"ns": {GeneratedAt: metav1.NewTime(now),
			VirtualMachines: []v1alpha1.VirtualMachineCostEntry{{Name: "vm", Amounts: v1alpha1.CostAmounts{MonthToDate: 30, MonthToDateFrom: &from}}}}}
		if _, err := k.sync(ctx, b, reports); err != nil {
			t.Fatal(err)
		}
		got, err := hyper.HypersdkV1alpha1().Budgets("ns").Get(ctx, "team", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, ConditionReady)
		said := got.Status.CountedFrom != nil && got.Status.CountedFrom.Equal(&from) && ready != nil && ready.Reason == "SpendPartial"
		if said != tc.partial || !tc.partial && (got.Status.CountedFrom != nil || ready == nil || ready.Reason != "SpendRead") {
			t.Errorf("%s: countedFrom %v, Ready %+v; want the cut said: %t", tc.name, got.Status.CountedFrom, ready, tc.partial)
		}
	}
}
