// Package costreport serves costreports: a namespace's VMs' cost and
// emissions now, today and this month, as JSON, YAML or CSV.
package costreport

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/apistatus"
	historyrest "github.com/hypersdk/hypersdk/pkg/registry/history"
)

// Name is the only report of a namespace: the current one.
const Name = "current"

// VMLister lists the VMs of the request's namespace.
type VMLister interface {
	List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error)
}

// Coster is what virtualmachines/cost answers for one VM.
type Coster interface {
	CostOf(ctx context.Context, vm *hypersdk.VirtualMachine, now time.Time) (*hypersdk.VirtualMachineCost, error)
}

// REST serves costreports.
type REST struct {
	vms    VMLister
	coster Coster
	codecs runtime.NegotiatedSerializer
	clock  clock.PassiveClock
}

var (
	_ rest.Connecter            = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
)

// NewREST returns the storage of costreports; codecs encode the answer in
// the negotiated format.
func NewREST(vms VMLister, coster Coster, codecs runtime.NegotiatedSerializer) *REST {
	return &REST{vms: vms, coster: coster, codecs: codecs, clock: clock.RealClock{}}
}

func (r *REST) New() runtime.Object      { return &hypersdk.CostReport{} }
func (r *REST) Destroy()                 {}
func (r *REST) NamespaceScoped() bool    { return true }
func (r *REST) GetSingularName() string  { return "costreport" }
func (r *REST) ConnectMethods() []string { return []string{http.MethodGet} }
func (r *REST) NewConnectOptions() (runtime.Object, bool, string) {
	return &hypersdk.CostReportOptions{}, false, ""
}

// Connect answers the namespace's report. Every error comes before the
// handler runs, so clients get a Kubernetes Status; a VM whose cost cannot
// be read fails the report rather than leaving it out of the total.
func (r *REST) Connect(ctx context.Context, name string, options runtime.Object, _ rest.Responder) (http.Handler, error) {
	gr := hypersdk.Resource("costreports")
	if name != Name {
		return nil, apierrors.NewNotFound(gr, name)
	}
	opts, ok := options.(*hypersdk.CostReportOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %T", options)
	}
	asCSV := false
	switch opts.Format {
	case "", "json":
	case "csv":
		asCSV = true
	default:
		return nil, historyrest.BadRequest(gr, name, "format", fmt.Sprintf("unsupported value %q: supported values: json, csv", opts.Format))
	}
	report, err := r.report(ctx, genericapirequest.NamespaceValue(ctx))
	if err != nil {
		return nil, err
	}
	filename := fmt.Sprintf("cost-%s-%s.csv", report.Namespace, report.GeneratedAt.UTC().Format(time.DateOnly))
	return historyrest.CSVOrNegotiated(r.codecs, asCSV, filename, report, func(w io.Writer) error { return writeCSV(w, report) }), nil
}

// report is every VM of namespace as virtualmachines/cost answers it, at
// one instant, and their sum.
func (r *REST) report(ctx context.Context, namespace string) (*hypersdk.CostReport, error) {
	obj, err := r.vms.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the VMs of %s: %w", namespace, err)
	}
	vms := obj.(*hypersdk.VirtualMachineList).Items
	sort.Slice(vms, func(i, j int) bool { return vms[i].Name < vms[j].Name })
	now := r.clock.Now()
	out := &hypersdk.CostReport{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: namespace}, GeneratedAt: metav1.NewTime(now),
		Total: hypersdk.CostAmounts{CarbonGramsPerHour: ptr.To(0.0)}}
	for i := range vms {
		c, err := r.coster.CostOf(ctx, &vms[i], now)
		if err != nil {
			return nil, apistatus.Wrapf(err, "cost of VM %s/%s", namespace, vms[i].Name)
		}
		a := hypersdk.CostAmounts{CostPerHour: c.CostPerHour, Today: c.Today, MonthToDate: c.MonthToDate, MonthToDateFrom: c.MonthToDateFrom,
			CarbonGramsPerHour: c.CarbonGramsPerHour, CarbonGramsToday: c.CarbonGramsToday, CarbonGramsMonthToDate: c.CarbonGramsMonthToDate}
		out.VirtualMachines = append(out.VirtualMachines, hypersdk.VirtualMachineCostEntry{Name: vms[i].Name, Node: c.Node, Amounts: a})
		out.Total = add(out.Total, a)
	}
	return out, nil
}

// add sums two amounts; a rate unknown in either is unknown in the sum, and
// the sum's month to date counts from the later of the two.
func add(a, b hypersdk.CostAmounts) hypersdk.CostAmounts {
	sum := hypersdk.CostAmounts{
		CostPerHour: a.CostPerHour + b.CostPerHour, Today: a.Today + b.Today, MonthToDate: a.MonthToDate + b.MonthToDate,
		CarbonGramsToday: a.CarbonGramsToday + b.CarbonGramsToday, CarbonGramsMonthToDate: a.CarbonGramsMonthToDate + b.CarbonGramsMonthToDate,
		MonthToDateFrom: a.MonthToDateFrom,
	}
	if b.MonthToDateFrom != nil && (a.MonthToDateFrom == nil || a.MonthToDateFrom.Before(b.MonthToDateFrom)) {
		sum.MonthToDateFrom = b.MonthToDateFrom
	}
	if a.CarbonGramsPerHour != nil && b.CarbonGramsPerHour != nil {
		sum.CarbonGramsPerHour = ptr.To(*a.CarbonGramsPerHour + *b.CarbonGramsPerHour)
	}
	return sum
}

// csvHeader names the CSV columns: the JSON field names.
var csvHeader = []string{"vm", "node", "costPerHour", "today", "monthToDate", "carbonGramsPerHour", "carbonGramsToday", "carbonGramsMonthToDate"}

// writeCSV writes one row per VM and a last row, "total", of their sum.
// Values use the shortest form that reads back as the same float64, so CSV
// and JSON carry the same numbers.
func writeCSV(w io.Writer, report *hypersdk.CostReport) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	row := func(vm, node string, a hypersdk.CostAmounts) []string {
		out := []string{vm, node}
		for _, v := range []*float64{&a.CostPerHour, &a.Today, &a.MonthToDate, a.CarbonGramsPerHour, &a.CarbonGramsToday, &a.CarbonGramsMonthToDate} {
			// An unknown amount is an empty cell, as a spreadsheet reads
			// a missing value, never 0.
			cell := ""
			if v != nil {
				cell = strconv.FormatFloat(*v, 'g', -1, 64)
			}
			out = append(out, cell)
		}
		return out
	}
	for _, vm := range report.VirtualMachines {
		if err := cw.Write(row(vm.Name, vm.Node, vm.Amounts)); err != nil {
			return err
		}
	}
	if err := cw.Write(row("total", "", report.Total)); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
