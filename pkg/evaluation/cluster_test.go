package evaluation

import (
	"testing"
	"time"
)

func TestClusterBindAndRelease(t *testing.T) {
	c, err := NewCluster([]Node{node("a", "A", 4, 16)})
	if err != nil {
		t.Fatal(err)
	}
	long, short := vm("long", 0, 3*time.Hour, 2), vm("short", 0, time.Hour, 2)
	for k, v := range []*VM{&long, &short} {
		if err := c.bind(0, k, v); err != nil {
			t.Fatal(err)
		}
	}
	extra := vm("extra", 0, time.Hour, 1)
	if c.Fits(0, &extra) {
		t.Error("a full node fits another VM")
	}
	if err := c.bind(0, 2, &extra); err == nil {
		t.Error("bind overcommitted the node")
	}
	for _, step := range []struct {
		at      time.Duration
		wantCPU int64
	}{
		{time.Hour - time.Nanosecond, 4000},
		// A VM leaving at t frees its place for one arriving at t.
		{time.Hour, 2000},
		{3 * time.Hour, 0},
	} {
		c.releaseUntil(t0.Add(step.at))
		if cpu, mem := c.Requested(0); cpu != step.wantCPU {
			t.Errorf("at +%s: %d mCPU (%d bytes) requested, want %d", step.at, cpu, mem, step.wantCPU)
		}
	}
	if _, mem := c.Requested(0); mem != 0 {
		t.Errorf("empty node still has %d bytes requested", mem)
	}
}

func TestClusterFitsMemoryWithOverhead(t *testing.T) {
	c, err := NewCluster([]Node{node("a", "A", 8, 4)})
	if err != nil {
		t.Fatal(err)
	}
	// 2 GiB of guest per CPU: 2 CPUs fit 4 GiB only without the overhead.
	v := vm("v", 0, time.Hour, 2)
	if c.Fits(0, &v) {
		t.Error("VM fits although its guest memory plus virt-launcher's overhead exceeds the node")
	}
}

func TestNewClusterRejectsDuplicateNames(t *testing.T) {
	if _, err := NewCluster([]Node{node("a", "A", 1, 1), node("a", "B", 1, 1)}); err == nil {
		t.Error("NewCluster accepted two nodes named a")
	}
}
