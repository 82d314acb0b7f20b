package e2e

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
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
	// The same through the plugin.
	table := hyperOK(t, "vm", "cost", "priced", "-n", ns, "-o", "wide")
	for _, want := range []string{"PER HOUR", "MONTH TO DATE", "CPU ALLOC", node.Name, "2Gi"} {
		if !strings.Contains(table, want) {
			t.Errorf("kubectl hyper vm cost -o wide: no %q in\n%s", want, table)
		}
	}
	if _, err := vmCost(ctx, ns, "nosuchvm"); !apierrors.IsNotFound(err) {
		t.Errorf("cost of a missing VM: %v, want 404", err)
	}
}
