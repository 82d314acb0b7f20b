package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

func vm(name string, cpus int32, memory string) *v1alpha1.VirtualMachine {
	return &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: v1alpha1.VirtualMachineSpec{CPUs: cpus, Memory: ptr.To(resource.MustParse(memory))}}
}

func TestSortByCompareQuantitiesAndNumbers(t *testing.T) {
	items := []runtime.Object{vm("a", 16, "512Mi"), vm("b", 2, "8Gi"), vm("c", 4, "1Gi")}
	for _, tc := range []struct{ by, want string }{
		{".spec.cpus", "bca"},     // 2 < 4 < 16, not "16" < "2"
		{"{.spec.memory}", "acb"}, // 512Mi < 1Gi < 8Gi
		{".metadata.name", "abc"},
	} {
		o := &output{sortBy: tc.by}
		if err := o.sort(items); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, it := range items {
			got += it.(*v1alpha1.VirtualMachine).Name
		}
		if got != tc.want {
			t.Errorf("--sort-by %s: %s, want %s", tc.by, got, tc.want)
		}
	}
	if err := (&output{sortBy: "{.spec["}).sort(items); err == nil {
		t.Error("a broken --sort-by expression was accepted")
	}
}

func TestFilters(t *testing.T) {
	f := vmFilters{minCPUs: 2, minMemory: "2Gi"}
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		vm   *v1alpha1.VirtualMachine
		want bool
	}{{vm("x", 2, "2Gi"), true}, {vm("x", 1, "4Gi"), false}, {vm("x", 4, "1Gi"), false}} {
		if got := f.match(tc.vm); got != tc.want {
			t.Errorf("match(%d CPUs, %s) = %v", tc.vm.Spec.CPUs, tc.vm.Spec.Memory, got)
		}
	}
	if err := (&vmFilters{minMemory: "4Gx"}).validate(); err == nil {
		t.Error("a bad quantity was accepted")
	}
	f = vmFilters{labels: "tier=web", status: "Running", node: "n1"}
	if o := f.listOptions(); o.LabelSelector != "tier=web" || o.FieldSelector != "status.phase=Running,status.nodeName=n1" {
		t.Errorf("list options %+v", o)
	}
}

func TestCSVHasHeaderAndNamespace(t *testing.T) {
	o := newOutput()
	*o.flags.OutputFormat = "csv"
	o.allNamespaces = true
	var b bytes.Buffer
	if err := o.print(&b, []runtime.Object{vm("a", 1, "1Gi")}, vmColumns); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "namespace" || rows[0][1] != "name" || rows[1][0] != "ns" || rows[1][1] != "a" || rows[1][3] != "1" {
		t.Errorf("csv %v", rows)
	}
}

// TestCustomColumns: -o custom-columns prints one header and a row per
// object, as kubectl get does; --no-headers drops the header.
func TestCustomColumns(t *testing.T) {
	items := []runtime.Object{vm("a", 1, "1Gi"), vm("b", 4, "8Gi")}
	for _, tc := range []struct {
		noHeaders bool
		want      string
	}{
		{false, "NAME CPUS MEMORY|a 1 1Gi|b 4 8Gi"},
		{true, "a 1 1Gi|b 4 8Gi"},
	} {
		o := newOutput()
		*o.flags.OutputFormat = "custom-columns=NAME:.metadata.name,CPUS:.spec.cpus,MEMORY:{.spec.memory}"
		o.noHeaders = tc.noHeaders
		var b bytes.Buffer
		if err := o.print(&b, items, vmColumns); err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			rows = append(rows, strings.Join(strings.Fields(line), " "))
		}
		if got := strings.Join(rows, "|"); got != tc.want {
			t.Errorf("--no-headers=%v: %q, want %q", tc.noHeaders, got, tc.want)
		}
	}
	o := newOutput()
	*o.flags.OutputFormat = "custom-columns"
	if _, err := o.printer(); err == nil {
		t.Error("-o custom-columns without columns was accepted")
	}
}

// TestListPrintsAsKubectlGet: -o json of several objects is a v1 List whose
// items say their apiVersion and kind, as kubectl get prints, so it can be
// applied again; one named object is printed alone, with its kind.
func TestListPrintsAsKubectlGet(t *testing.T) {
	o := newOutput()
	*o.flags.OutputFormat = "json"
	var b bytes.Buffer
	if err := o.print(&b, []runtime.Object{vm("a", 1, "1Gi"), vm("b", 2, "2Gi")}, vmColumns); err != nil {
		t.Fatal(err)
	}
	var list struct {
		APIVersion, Kind string
		Items            []struct{ APIVersion, Kind string }
	}
	if err := json.Unmarshal(b.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" || len(list.Items) != 2 {
		t.Fatalf("list %+v, want a v1 List of two", list)
	}
	for i, item := range list.Items {
		if item.APIVersion != "hypersdk.io/v1alpha1" || item.Kind != "VirtualMachine" {
			t.Errorf("item %d says %q %q, want hypersdk.io/v1alpha1 VirtualMachine", i, item.APIVersion, item.Kind)
		}
	}
	o.single = true
	b.Reset()
	if err := o.print(&b, []runtime.Object{vm("a", 1, "1Gi")}, vmColumns); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b.Bytes(), &list); err != nil || list.Kind != "VirtualMachine" {
		t.Fatalf("one named VM prints as %q (%v), want VirtualMachine", list.Kind, err)
	}
}

// TestEmptySeriesHasNoTrend: a series without points (a VM on an unpriced
// node has no costPerHour) prints no trend, not a trend of zeros that
// reads as free.
func TestEmptySeriesHasNoTrend(t *testing.T) {
	row := seriesColumns.row(&v1alpha1.HistorySeries{Field: "costPerHour", Unit: "$/h"}, false)
	for i, cell := range row[3:] {
		if cell != "<none>" {
			t.Errorf("column %s of an empty series: %v, want <none>", seriesColumns.names[3+i], cell)
		}
	}
	row = seriesColumns.row(&v1alpha1.HistorySeries{Field: "cpuUsage", Points: []v1alpha1.HistoryPoint{{Value: 0}},
		Trend: v1alpha1.HistoryTrend{Count: 1}}, false)
	if row[3] != "0" || row[7] != "0" {
		t.Errorf("a series of one 0: avg %v, last %v; want 0 and 0", row[3], row[7])
	}
}
