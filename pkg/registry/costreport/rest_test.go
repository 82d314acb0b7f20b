package costreport

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

type vmList []string

func (l vmList) List(context.Context, *metainternalversion.ListOptions) (runtime.Object, error) {
	out := &hypersdk.VirtualMachineList{}
	for _, n := range l {
		out.Items = append(out.Items, hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "ns"}})
	}
	return out, nil
}

// costs gives each VM a cost per hour; "broken" cannot be read.
type costs map[string]float64

func (c costs) CostOf(_ context.Context, vm *hypersdk.VirtualMachine, now time.Time) (*hypersdk.VirtualMachineCost, error) {
	switch vm.Name {
	case "broken":
		return nil, errors.New("history unavailable")
	case "unpriced":
		return nil, apierrors.NewServiceUnavailable("node n1 has no price")
	}
	v := c[vm.Name]
	out := &hypersdk.VirtualMachineCost{ObjectMeta: metav1.ObjectMeta{Name: vm.Name}, SampledAt: metav1.NewTime(now), Node: "n1",
		CostPerHour: v, Today: 2 * v, MonthToDate: 10 * v, CarbonGramsToday: 200 * v, CarbonGramsMonthToDate: 1000 * v}
	if vm.Name != "dark" { // "dark" runs in a zone without a carbon reading
		out.CarbonGramsPerHour = ptr.To(100 * v)
	}
	return out, nil
}

func TestReportSumsItsVMs(t *testing.T) {
	ctx := genericapirequest.WithNamespace(context.Background(), "ns")
	r := NewREST(vmList{"b", "a"}, costs{"a": 0.25, "b": 0.5}, nil)
	report, err := r.report(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	if len(report.VirtualMachines) != 2 || report.VirtualMachines[0].Name != "a" {
		t.Fatalf("entries %+v, want a then b", report.VirtualMachines)
	}
	want := hypersdk.CostAmounts{CostPerHour: 0.75, Today: 1.5, MonthToDate: 7.5, CarbonGramsPerHour: ptr.To(75.0), CarbonGramsToday: 150, CarbonGramsMonthToDate: 750}
	if !equality.Semantic.DeepEqual(report.Total, want) {
		t.Errorf("total %+v, want %+v", report.Total, want)
	}

	h, err := r.Connect(ctx, Name, &hypersdk.CostReportOptions{Format: "csv"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") ||
		strings.Join(rows[1], ",") != "a,n1,0.25,0.5,2.5,25,50,250" || strings.Join(rows[3], ",") != "total,,0.75,1.5,7.5,75,150,750" {
		t.Errorf("csv:\n%s", rec.Body.String())
	}
}

// TestReportOfAnUnknownRate leaves out, rather than sums as 0, the rate of
// a VM in a zone without a carbon reading, and every total it is part of.
func TestReportOfAnUnknownRate(t *testing.T) {
	ctx := genericapirequest.WithNamespace(context.Background(), "ns")
	r := NewREST(vmList{"a", "dark"}, costs{"a": 0.25, "dark": 0.5}, nil)
	report, err := r.report(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	if got := report.Total.CarbonGramsPerHour; got != nil {
		t.Errorf("total rate %v with one VM's unknown, want none", *got)
	}
	if report.Total.CostPerHour != 0.75 || report.Total.CarbonGramsToday != 150 {
		t.Errorf("total %+v, want the known amounts summed", report.Total)
	}
	var b strings.Builder
	if err := writeCSV(&b, report); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || strings.Join(rows[1], ",") != "a,n1,0.25,0.5,2.5,25,50,250" ||
		strings.Join(rows[2], ",") != "dark,n1,0.5,1,5,,100,500" || strings.Join(rows[3], ",") != "total,,0.75,1.5,7.5,,150,750" {
		t.Errorf("csv:\n%s", b.String())
	}
}

func TestReportErrors(t *testing.T) {
	ctx := genericapirequest.WithNamespace(context.Background(), "ns")
	r := NewREST(vmList{"a", "broken"}, costs{"a": 1}, nil)
	if _, err := r.Connect(ctx, "last-month", &hypersdk.CostReportOptions{}, nil); !apierrors.IsNotFound(err) {
		t.Errorf("another name: %v, want 404", err)
	}
	_, err := r.Connect(ctx, Name, &hypersdk.CostReportOptions{Format: "xml"}, nil)
	var status apierrors.APIStatus
	if !apierrors.IsBadRequest(err) || !errors.As(err, &status) || status.Status().Details.Causes[0].Field != "format" {
		t.Errorf("format=xml: %v, want 400 naming format", err)
	}
	// A VM whose cost cannot be read fails the report, not its total.
	if _, err := r.Connect(ctx, Name, &hypersdk.CostReportOptions{}, nil); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("unreadable VM: %v, want an error naming it", err)
	}
	// An unknown cost keeps its status, which the API server answers only
	// unwrapped: 503, not 500.
	r = NewREST(vmList{"a", "unpriced"}, costs{"a": 1}, nil)
	_, err = r.Connect(ctx, Name, &hypersdk.CostReportOptions{}, nil)
	if _, isStatus := err.(*apierrors.StatusError); !isStatus || !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "ns/unpriced") {
		t.Errorf("a VM of unknown cost: %#v, want a bare 503 Status naming it", err)
	}
}

// TestTotalCountsFromTheLatestCut: a total's month to date counts from the
// latest time any of its VMs' counts from (the history store's retention
// cut them), and from the first of the month when none is cut.
func TestTotalCountsFromTheLatestCut(t *testing.T) {
	early, late := metav1.NewTime(time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)), metav1.NewTime(time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name string
		vms  []*metav1.Time
		want *metav1.Time
	}{
		{"none cut", []*metav1.Time{nil, nil}, nil},
		{"one cut", []*metav1.Time{nil, &early}, &early},
		{"the latest", []*metav1.Time{&late, nil, &early}, &late},
	} {
		var total hypersdk.CostAmounts
		for _, from := range tc.vms {
			total = add(total, hypersdk.CostAmounts{MonthToDate: 1, MonthToDateFrom: from})
		}
		if !equality.Semantic.DeepEqual(total.MonthToDateFrom, tc.want) || total.MonthToDate != float64(len(tc.vms)) {
			t.Errorf("%s: total from %v (%v), want %v", tc.name, total.MonthToDateFrom, total.MonthToDate, tc.want)
		}
	}
}
