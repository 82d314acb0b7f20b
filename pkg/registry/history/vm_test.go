package history

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/history"
)

// vmOf answers every Get with vm.
type vmOf struct{ vm *hypersdk.VirtualMachine }

func (g vmOf) Get(context.Context, string, *metav1.GetOptions) (runtime.Object, error) {
	return g.vm, nil
}

// TestAVMMadeAgainHasNoneOfTheOldOnesHistory: history is kept by name; a
// VM made again under a deleted one's name is not shown the points from
// before it was made.
func TestAVMMadeAgainHasNoneOfTheOldOnesHistory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	clock, store := storeAt(t, now)
	for at := now.Add(-50 * time.Minute); !at.After(now); at = at.Add(10 * time.Minute) {
		if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{{Namespace: "ns", Name: "vm", Phase: "Running",
			CPUAllocatedCores: 2}}}); err != nil {
			t.Fatal(err)
		}
	}
	rows := cpuAllocatedCSV(t, store, clock, now.Add(-25*time.Minute))
	// A header, then 07:40, 07:50 and 08:00: the VM was made at 07:35.
	if len(rows) != 4 || !strings.HasPrefix(rows[1], "2026-12-02T07:40:00Z") {
		t.Errorf("history of the VM made at 07:35:\n%s\nwant the points from 07:40 on", strings.Join(rows, "\n"))
	}
}

// TestTheFirstPointOfAVMMadeAgainIsItsOwn: the first point after a VM of a
// deleted one's name was made averages its own samples only, over the part
// of the step since then, not the deleted VM's of the step's start; a VM
// with no predecessor keeps that first point too.
func TestTheFirstPointOfAVMMadeAgainIsItsOwn(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	created := now.Add(-25 * time.Minute) // 07:35
	for _, tc := range []struct {
		name   string
		before bool          // a deleted VM of the same name ran before 07:35
		every  time.Duration // the recorder's interval
		first  string        // the first row
	}{
		{"made again", true, time.Minute, "2026-12-02T07:40:00Z,2"},
		{"new", false, time.Minute, "2026-12-02T07:40:00Z,2"},
		// Nothing recorded between 07:35 and 07:40: no point of its own
		// there, and no 503 for the part of the step that has none.
		{"made again, sampled every 10 minutes", true, 10 * time.Minute, "2026-12-02T07:50:00Z,2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock, store := storeAt(t, now)
			for at := now.Add(-time.Hour).Add(3 * time.Minute); !at.After(now); at = at.Add(tc.every) {
				cores := 2.0
				if at.Before(created) {
					if !tc.before {
						continue
					}
					cores = 8
				}
				if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{{Namespace: "ns", Name: "vm", Phase: "Running",
					CPUAllocatedCores: cores}}}); err != nil {
					t.Fatal(err)
				}
			}
			rows := cpuAllocatedCSV(t, store, clock, created)
			if rows[1] != tc.first || !strings.HasPrefix(rows[len(rows)-1], "2026-12-02T08:00:00Z,2") {
				t.Errorf("history of the VM made at 07:35:\n%s\nwant from %s at its own 2 cores to 08:00", strings.Join(rows, "\n"), tc.first)
			}
		})
	}
}

// cpuAllocatedCSV is the last hour of ns/vm's cpuAllocated, in 10-minute
// steps, as CSV rows, for a VM made at created.
func cpuAllocatedCSV(t *testing.T, store history.Store, clock *clocktesting.FakePassiveClock, created time.Time) []string {
	t.Helper()
	vm := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm", CreationTimestamp: metav1.NewTime(created)}}
	r := NewVMREST(Config{Store: store, Clock: clock}, vmOf{vm})
	h, err := r.Connect(genericapirequest.WithNamespace(context.Background(), "ns"), "vm", &hypersdk.VirtualMachineHistoryOptions{
		TimeRange: "1h", Step: "10m", Fields: []string{history.FieldCPUAllocated}, Format: "csv"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	return strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
}
