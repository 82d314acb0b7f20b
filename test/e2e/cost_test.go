package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/cloudprices"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/test/framework"
)

func vmCost(ctx context.Context, ns, vm string) (*v1alpha1.VirtualMachineCost, error) {
	var c v1alpha1.VirtualMachineCost
	err := env.HyperSDK.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").Name(vm).
		SubResource("cost").Do(ctx).Into(&c)
	return &c, err
}

// TestVMCost: virtualmachines/cost is pkg/cost's price of the VM's size and
// usage on its node, and today's and the month's cost build up from history
// no faster than the VM has run.
func TestVMCost(t *testing.T) {
	// Mostly waiting (for the recorder's history to give a cost): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "cost")
	created := time.Now()
	createKubeVirtVM(t, ns, kubevirtVM("priced", 2, "2Gi", nil))
	vmi := runningVMI(t, ns, "priced", "")

	var c *v1alpha1.VirtualMachineCost
	framework.Eventually(t, "a cost with some history", func(ctx context.Context) (bool, error) {
		got, err := vmCost(ctx, ns, "priced")
		c = got
		return err == nil && got.Node != "" && got.MonthToDate > 0 && got.Today > 0, err
	})
	node, err := env.Kube.CoreV1().Nodes().Get(ctx, vmi.Status.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prices, err := cost.DefaultModel().NodePrices(node)
	if err != nil {
		t.Fatal(err)
	}
	want := cost.VMCostPerHour(prices, c.CPUAllocatedCores, c.MemoryAllocatedBytes, nil, c.CPUUsageCores, c.MemoryUsageBytes)
	if c.Node != node.Name || c.CPUAllocatedCores != 2 || c.MemoryAllocatedBytes != 2<<30 || c.CostPerHour <= 0 ||
		math.Abs(c.CostPerHour-want) > 1e-9*want {
		t.Errorf("cost %+v; want 2 cores and 2Gi on %s at %.6f per hour (pkg/cost)", c, node.Name, want)
	}
	// No more than it would have cost at today's rate, with room for
	// usage above the allocation, since it was created.
	ran := time.Since(created).Hours()
	if c.Today > c.MonthToDate+1e-12 || c.MonthToDate > 2*c.CostPerHour*ran {
		t.Errorf("today %.6f, month to date %.6f, for a VM at %.6f per hour for %.4f h", c.Today, c.MonthToDate, c.CostPerHour, ran)
	}
	// The same size at each built-in cloud price list's cheapest fitting
	// instance type, cheapest first.
	lists, err := cloudprices.BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.CloudComparison) != len(lists) || len(lists) < 3 {
		t.Fatalf("cloud comparison %+v, want one entry for each of the %d built-in lists", c.CloudComparison, len(lists))
	}
	for i, got := range c.CloudComparison {
		if i > 0 && got.PricePerHour < c.CloudComparison[i-1].PricePerHour {
			t.Errorf("comparison not cheapest first: %+v", c.CloudComparison)
		}
		for _, l := range lists {
			if l.Cloud != got.Cloud {
				continue
			}
			in, _ := l.Nearest(cloudprices.Size{VCPUs: 2, MemoryGiB: 2})
			if got.InstanceType != in.Type || got.PricePerHour != in.PerHour || got.VCPUs != int32(in.VCPUs) ||
				got.Source != l.Source || got.PriceListDate != l.Date.Format(time.DateOnly) || got.Region != l.Region {
				t.Errorf("%s: %+v, want %s at %.4f from %s of %s", got.Cloud, got, in.Type, in.PerHour, l.Source, l.Date)
			}
		}
	}
	// The same through the plugin.
	table := hyperOK(t, "vm", "cost", "priced", "-n", ns, "-o", "wide")
	for _, want := range []string{"PER HOUR", "MONTH TO DATE", "CPU ALLOC", node.Name, "2Gi",
		"INSTANCE TYPE", "VS HERE", c.CloudComparison[0].InstanceType, c.CloudComparison[0].Source} {
		if !strings.Contains(table, want) {
			t.Errorf("kubectl hyper vm cost -o wide: no %q in\n%s", want, table)
		}
	}
	if _, err := vmCost(ctx, ns, "nosuchvm"); !apierrors.IsNotFound(err) {
		t.Errorf("cost of a missing VM: %v, want 404", err)
	}
}

// TestNamespaceCostReport: costreports/current lists every VM of the
// namespace with its cost and emissions, the total is their sum, and each
// VM's month to date grows by what its recorded history adds up to; the
// same as CSV and through the plugin.
func TestNamespaceCostReport(t *testing.T) {
	// Mostly waiting (for minute boundaries of the cost integration): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "costreport")
	createKubeVirtVM(t, ns, kubevirtVM("small", 1, "1Gi", nil))
	createKubeVirtVM(t, ns, kubevirtVM("large", 4, "8Gi", nil))
	runningVMI(t, ns, "small", "")
	runningVMI(t, ns, "large", "")

	rc := env.HyperSDK.HypersdkV1alpha1().RESTClient()
	var report v1alpha1.CostReport
	framework.Eventually(t, "a cost report with both VMs' history", func(ctx context.Context) (bool, error) {
		report = v1alpha1.CostReport{}
		if err := rc.Get().Namespace(ns).Resource("costreports").Name("current").Do(ctx).Into(&report); err != nil {
			return false, err
		}
		if len(report.VirtualMachines) != 2 {
			return false, nil
		}
		for _, vm := range report.VirtualMachines {
			if a := vm.Amounts; a.MonthToDate <= 0 || a.CarbonGramsMonthToDate <= 0 || a.CarbonGramsPerHour == nil || *a.CarbonGramsPerHour <= 0 {
				return false, nil
			}
		}
		return true, nil
	})
	var sum v1alpha1.CostAmounts
	for _, vm := range report.VirtualMachines {
		a := vm.Amounts
		sum.CostPerHour += a.CostPerHour
		sum.MonthToDate += a.MonthToDate
		sum.CarbonGramsMonthToDate += a.CarbonGramsMonthToDate
	}
	if !near(report.Total.CostPerHour, sum.CostPerHour) || !near(report.Total.MonthToDate, sum.MonthToDate) ||
		!near(report.Total.CarbonGramsMonthToDate, sum.CarbonGramsMonthToDate) {
		t.Errorf("total %+v is not the sum of the VMs %+v", report.Total, sum)
	}

	// What each VM's month to date grows by over whole minutes against its
	// history read back at the recorder's interval, each point standing
	// for the time since the one before it (a busy recorder leaves some
	// intervals empty). The report integrates whole minutes, so the two
	// reports compared are a minute boundary apart, in the same month.
	first := report
	minute := func(r *v1alpha1.CostReport) time.Time { return r.GeneratedAt.UTC().Truncate(time.Minute) }
	var later v1alpha1.CostReport
	framework.Eventually(t, "a cost report a minute boundary later", func(ctx context.Context) (bool, error) {
		later = v1alpha1.CostReport{}
		if err := rc.Get().Namespace(ns).Resource("costreports").Name("current").Do(ctx).Into(&later); err != nil {
			return false, err
		}
		if later.GeneratedAt.UTC().Month() != first.GeneratedAt.UTC().Month() {
			first = later // the month turned: start again from this one
			return false, nil
		}
		return minute(&later).After(minute(&first)), nil
	})
	from, to := minute(&first), minute(&later)
	for i, vm := range later.VirtualMachines {
		var h v1alpha1.VirtualMachineHistory
		err := rc.Get().Namespace(ns).Resource("virtualmachines").Name(vm.Name).SubResource("history").
			Param("timeRange", "1h").Param("step", framework.RecordInterval.String()).Param("fields", "costPerHour").
			Do(context.Background()).Into(&h)
		if err != nil || len(h.Series) != 1 {
			t.Fatalf("history of %s: %v %+v", vm.Name, err, h.Series)
		}
		recorded := 0.0
		points := h.Series[0].Points
		for j, p := range points {
			if j == 0 || !p.Time.After(from) || p.Time.After(to) {
				continue
			}
			since := points[j-1].Time.Time
			if since.Before(from) {
				since = from
			}
			recorded += p.Value * p.Time.Sub(since).Hours()
		}
		grew := vm.Amounts.MonthToDate - first.VirtualMachines[i].Amounts.MonthToDate
		slack := vm.Amounts.CostPerHour*(3*framework.RecordInterval).Hours() + 0.01*recorded
		t.Logf("%s: month to date grew by %.6f from %s to %s; its history adds up to %.6f", vm.Name, grew, from.Format(time.TimeOnly), to.Format(time.TimeOnly), recorded)
		if recorded <= 0 || math.Abs(grew-recorded) > slack {
			t.Errorf("%s: month to date grew by %.6f from %s to %s, its history adds up to %.6f (±%.6f)", vm.Name, grew, from, to, recorded, slack)
		}
	}

	// CSV: a row per VM and the total of those rows.
	raw, err := rc.Get().Namespace(ns).Resource("costreports").Name("current").Param("format", "csv").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][0] != "vm" || rows[3][0] != "total" {
		t.Fatalf("csv (%v):\n%s", err, raw)
	}
	for col := 2; col < len(rows[0]); col++ {
		var rowSum float64
		for _, r := range rows[1:3] {
			rowSum += parseFloat(t, r[col])
		}
		if total := parseFloat(t, rows[3][col]); !near(total, rowSum) {
			t.Errorf("csv %s: total %g, rows add up to %g", rows[0][col], total, rowSum)
		}
	}

	table := hyperOK(t, "cost", "-n", ns)
	for _, want := range []string{"MONTH TO DATE", "GCO2/H", "small", "large", "TOTAL"} {
		if !strings.Contains(table, want) {
			t.Errorf("kubectl hyper cost: no %q in\n%s", want, table)
		}
	}
}

// near reports whether a and b agree to floating-point rounding.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}
