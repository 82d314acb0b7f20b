package rebalance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

func TestStartLogKeepsDepartedStartsForTheWindow(t *testing.T) {
	var l startLog
	a := Start{Node: "n1", At: now.Add(-time.Hour), CPUCores: 2}
	b := Start{Node: "n2", At: now.Add(-2 * time.Hour), CPUCores: 4}
	byAt := func(x, y Start) int { return x.At.Compare(y.At) }
	want := []Start{b, a}
	got := l.observe(now, map[types.UID]Start{"a": a, "b": b})
	if slices.SortFunc(got, byAt); !slices.Equal(got, want) {
		t.Fatalf("starts = %v, want %v", got, want)
	}
	// a migrated to n3, where it is no arrival, and b departed: both
	// still took their room where they started.
	moved := a
	moved.Node = "n3"
	got = l.observe(now.Add(time.Minute), map[types.UID]Start{"a": moved})
	if slices.SortFunc(got, byAt); !slices.Equal(got, want) {
		t.Fatalf("starts = %v after a migration and a departure, want %v", got, want)
	}
	// Once b started more than DisplacementWindow ago it is forgotten.
	later := b.At.Add(DisplacementWindow + time.Minute)
	if got := l.observe(later, nil); !slices.Equal(got, []Start{a}) {
		t.Fatalf("starts = %v at %s, want only a", got, later)
	}
	if _, ok := l.seen["b"]; ok {
		t.Error("b is still remembered after the window")
	}
}

// TestStartLogOfLongRunningVMsDoesNotChange: an instance running since
// before the window is not logged, so each pass does not add it, forget
// it again and rewrite the saved log.
func TestStartLogOfLongRunningVMsDoesNotChange(t *testing.T) {
	var l startLog
	old := map[types.UID]Start{"old": {Node: "n1", At: now.Add(-2 * DisplacementWindow), CPUCores: 2}}
	l.observe(now, old)
	l.changed = false // saved
	if got := l.observe(now.Add(time.Minute), old); len(got) != 0 || l.changed {
		t.Errorf("a VM running since before the window: starts %v, changed %v; want none, unchanged", got, l.changed)
	}
}

// The log saves only when it changed, oldest first, at most
// maxSavedStarts of the newest.
func TestStartLogEntries(t *testing.T) {
	var l startLog
	running := map[types.UID]Start{}
	for i := range maxSavedStarts + 2 {
		running[types.UID(fmt.Sprintf("vm-%05d", i))] = Start{Node: "n1", At: now.Add(-time.Duration(i) * time.Second), CPUCores: 1}
	}
	l.observe(now, running)
	if !l.changed {
		t.Fatal("new starts: the log does not say it changed")
	}
	got := l.entries()
	if len(got) != maxSavedStarts {
		t.Fatalf("%d entries, want %d", len(got), maxSavedStarts)
	}
	// The two oldest (vm-06001 and vm-06000, started the longest ago)
	// are the ones left out.
	if got[0].UID != types.UID(fmt.Sprintf("vm-%05d", maxSavedStarts-1)) || got[len(got)-1].UID != "vm-00000" {
		t.Errorf("entries from %s to %s, want the newest %d, oldest first", got[0].UID, got[len(got)-1].UID, maxSavedStarts)
	}
	l.changed = false
	l.observe(now.Add(time.Second), running)
	if l.changed {
		t.Error("the same instances again: the log says it changed")
	}
	l.observe(now.Add(DisplacementWindow), running)
	if !l.changed {
		t.Error("starts forgotten: the log does not say it changed")
	}
}

// Until the saved log has been read back, save writes nothing: it would
// replace the last leader's starts with this process's alone. (It returns
// before using the client, which is nil here.)
func TestStartLogSavesOnlyOnceLoaded(t *testing.T) {
	var l startLog
	l.observe(now, map[types.UID]Start{"a": {Node: "n1", At: now, CPUCores: 1}})
	if err := l.save(context.Background(), nil, "hypersdk-system"); err != nil {
		t.Fatal(err)
	}
	if !l.changed {
		t.Error("a save before the log was read back marked it saved")
	}
}

// A saved log that cannot be decoded is replaced by the next save, not
// read and refused again at every pass.
func TestAnUnreadableStartLogIsReplaced(t *testing.T) {
	ctx := context.Background()
	kube := kubefake.NewSimpleClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: StartsConfigMap, Namespace: "hypersdk-system"},
		Data: map[string]string{startsKey: "garbage"}})
	var l startLog
	l.observe(now, map[types.UID]Start{"a": {Node: "n1", At: now, CPUCores: 1}})
	if err := l.load(ctx, kube, "hypersdk-system"); err == nil {
		t.Fatal("load of garbage: no error")
	}
	if err := l.save(ctx, kube, "hypersdk-system"); err != nil {
		t.Fatal(err)
	}
	cm, err := kube.CoreV1().ConfigMaps("hypersdk-system").Get(ctx, StartsConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var saved []loggedStart
	if err := json.Unmarshal([]byte(cm.Data[startsKey]), &saved); err != nil || len(saved) != 1 || saved[0].UID != "a" {
		t.Errorf("start log after the save: %q (%v), want the start of a", cm.Data[startsKey], err)
	}
}
