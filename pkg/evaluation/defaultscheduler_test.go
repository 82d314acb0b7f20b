package evaluation

import (
	"context"
	"testing"
	"time"
)

// The cases come from k8s.io/kubernetes v1.37.2
// pkg/scheduler/framework/plugins/noderesources/*_test.go, with their
// expected scores, so the emulation scores as kube-scheduler does.
func TestLeastAllocatedScore(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		requested, allocable [2]int64
		want                 int64
	}{
		{"nothing requested", [2]int64{0, 0}, [2]int64{4000, 10000}, 100},
		{"differently sized nodes, node1", [2]int64{3000, 5000}, [2]int64{4000, 10000}, 37},
		{"differently sized nodes, node2", [2]int64{3000, 5000}, [2]int64{6000, 10000}, 50},
		{"pods scheduled with resources", [2]int64{6000, 10000}, [2]int64{10000, 20000}, 45},
		{"an over-requested resource scores zero", [2]int64{12000, 10000}, [2]int64{10000, 20000}, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := leastAllocatedScore(tc.requested, tc.allocable); got != tc.want {
				t.Errorf("leastAllocatedScore(%v, %v) = %d, want %d", tc.requested, tc.allocable, got, tc.want)
			}
		})
	}
}

func TestBalancedAllocationScore(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		before, after, allocable [2]int64
		want                     int64
	}{
		{"nothing scheduled, node1", [2]int64{0, 0}, [2]int64{3000, 5000}, [2]int64{4000, 10000}, 68},
		{"nothing scheduled, node2", [2]int64{0, 0}, [2]int64{3000, 5000}, [2]int64{6000, 10000}, 75},
		{"pods scheduled, node1", [2]int64{3000, 0}, [2]int64{6000, 5000}, [2]int64{10000, 20000}, 73},
		{"pods scheduled, node2", [2]int64{3000, 5000}, [2]int64{6000, 10000}, [2]int64{10000, 20000}, 74},
		{"differently sized, node2", [2]int64{3000, 5000}, [2]int64{6000, 10000}, [2]int64{10000, 50000}, 70},
		{"reaching max", [2]int64{3000, 0}, [2]int64{3000, 5000}, [2]int64{3000, 5000}, 100},
		{"reaching min", [2]int64{0, 0}, [2]int64{0, 5000}, [2]int64{10000, 5000}, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := balancedAllocationScore(tc.before, tc.after, tc.allocable); got != tc.want {
				t.Errorf("balancedAllocationScore = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDefaultSchedulerPlace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []Node
		// running are placed first, each on the node of the same index.
		running []VM
		want    int
	}{
		// Least allocated: the bigger node stays emptier.
		{"prefers the emptier node", []Node{node("a", "A", 8, 32), node("b", "B", 32, 128)}, nil, 1},
		{"skips nodes the VM does not fit", []Node{node("a", "A", 1, 32), node("b", "B", 2, 4)}, nil, -1},
		// kube-scheduler knows nothing of spot capacity.
		{"places on spot without the label", []Node{node("a", "A", 8, 32), spotNode("b", "B", 32, 128)}, nil, 1},
		{"avoids the loaded node", []Node{node("a", "A", 16, 64), node("b", "B", 16, 64)},
			[]VM{vm("r", 0, time.Hour, 8)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCluster(tc.nodes)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.running {
				if err := c.bind(i, i, &tc.running[i]); err != nil {
					t.Fatal(err)
				}
			}
			v := vm("new", 0, time.Hour, 2)
			got, err := NewDefaultScheduler(1).Place(context.Background(), &v, t0, c)
			if err != nil || got != tc.want {
				t.Errorf("Place = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// With tainted spot nodes, kube-scheduler keeps VMs without the allow-spot
// label off them, as HyperSDK's filter does, and still prefers a spot node
// for a VM with the label when it scores better.
func TestSpotTaintedSchedulerHonoursTheLabel(t *testing.T) {
	c, err := NewCluster([]Node{node("a", "A", 8, 32), spotNode("b", "B", 32, 128)})
	if err != nil {
		t.Fatal(err)
	}
	v := vm("new", 0, time.Hour, 2)
	if got, err := NewSpotTaintedScheduler(1).Place(context.Background(), &v, t0, c); err != nil || got != 0 {
		t.Errorf("without the label: Place = %d, %v; want 0, the on-demand node", got, err)
	}
	v.AllowSpot = true
	if got, err := NewSpotTaintedScheduler(1).Place(context.Background(), &v, t0, c); err != nil || got != 1 {
		t.Errorf("with the label: Place = %d, %v; want 1, the emptier spot node", got, err)
	}
	alone, err := NewCluster([]Node{spotNode("b", "B", 32, 128)})
	if err != nil {
		t.Fatal(err)
	}
	v.AllowSpot = false
	if got, err := NewSpotTaintedScheduler(1).Place(context.Background(), &v, t0, alone); err != nil || got != -1 {
		t.Errorf("only a spot node, without the label: Place = %d, %v; want -1", got, err)
	}
}

// Ties go to a random best node, as selectHost's reservoir sampling does,
// not always to the first: the default scheduler spreads identical nodes.
func TestDefaultSchedulerBreaksTiesAtRandom(t *testing.T) {
	c, err := NewCluster([]Node{node("a", "A", 16, 64), node("b", "B", 16, 64), node("c", "C", 4, 64)})
	if err != nil {
		t.Fatal(err)
	}
	v := vm("new", 0, time.Hour, 2)
	picked := map[int]int{}
	for seed := range uint64(64) {
		i, err := NewDefaultScheduler(seed).Place(context.Background(), &v, t0, c)
		if err != nil {
			t.Fatal(err)
		}
		picked[i]++
		again, _ := NewDefaultScheduler(seed).Place(context.Background(), &v, t0, c)
		if again != i {
			t.Fatalf("seed %d picked %d, then %d", seed, i, again)
		}
	}
	if picked[0] == 0 || picked[1] == 0 || picked[2] != 0 {
		t.Errorf("picks by node over 64 seeds = %v, want both tied nodes and never the fuller one", picked)
	}
}
