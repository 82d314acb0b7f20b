package rebalance

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// StartsConfigMap is the ConfigMap, in Config.StateNamespace, that keeps
// the start log across restarts and leader changes: without it a new
// leader would, for a day, count as arrivals only the VMs still running,
// and find the clean zones' room free for longer than it is.
const StartsConfigMap = "hypersdk-rebalancer-starts"

// startsKey is the ConfigMap key of the log, as JSON.
const startsKey = "starts.json"

// maxSavedStarts bounds the log saved, newest kept, so that it stays well
// within a ConfigMap's 1 MiB (an entry is about 120 bytes of JSON). A
// cluster that starts more VMs a day loses, across a restart, only the
// oldest of the day's starts.
const maxSavedStarts = 6000

// startLog remembers where and when the VM instances the rebalancer saw
// running started, for DisplacementWindow, so that a pass counts as
// arrivals the ones that have departed since too (Input.Starts).
type startLog struct {
	seen map[types.UID]Start
	// changed says seen differs from what was last saved.
	changed bool
	// loaded says the saved log has been read (or there was none).
	loaded bool
}

// loggedStart is one entry of the saved log.
type loggedStart struct {
	UID      types.UID `json:"uid"`
	Node     string    `json:"node"`
	At       time.Time `json:"at"`
	CPUCores float64   `json:"cpuCores"`
}

// observe records the instances running now (by UID, where and when each
// started), forgets those that started more than DisplacementWindow ago,
// and returns the starts it remembers, running or not. An instance keeps
// the node it was first seen on: a migration is no arrival.
func (l *startLog) observe(now time.Time, running map[types.UID]Start) []Start {
	// An instance that started before the window is neither logged nor
	// forgotten again on every pass (which would save the log each time).
	recent := make(map[types.UID]Start, len(running))
	for uid, s := range running {
		if now.Sub(s.At) <= DisplacementWindow {
			recent[uid] = s
		}
	}
	l.add(recent)
	starts := make([]Start, 0, len(l.seen))
	for uid, s := range l.seen {
		if now.Sub(s.At) > DisplacementWindow {
			delete(l.seen, uid)
			l.changed = true
			continue
		}
		starts = append(starts, s)
	}
	return starts
}

// add records the starts not yet known.
func (l *startLog) add(starts map[types.UID]Start) {
	if l.seen == nil {
		l.seen = map[types.UID]Start{}
	}
	for uid, s := range starts {
		if _, ok := l.seen[uid]; !ok {
			l.seen[uid] = s
			l.changed = true
		}
	}
}

// load adds the log saved in namespace to l, once: a read that fails is
// tried again at the next pass, and what was observed meanwhile is kept.
func (l *startLog) load(ctx context.Context, kube kubernetes.Interface, namespace string) error {
	if l.loaded {
		return nil
	}
	cm, err := kube.CoreV1().ConfigMaps(namespace).Get(ctx, StartsConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading the start log %s/%s: %w", namespace, StartsConfigMap, err)
	default:
		var saved []loggedStart
		if err := json.Unmarshal([]byte(cm.Data[startsKey]), &saved); err != nil {
			// Read again it would say the same: it is replaced by the starts
			// observed from now on, as if there had been none.
			l.loaded, l.changed = true, true
			return fmt.Errorf("decoding the start log %s/%s, which the next save replaces: %w", namespace, StartsConfigMap, err)
		}
		starts := make(map[types.UID]Start, len(saved))
		for _, s := range saved {
			starts[s.UID] = Start{Node: s.Node, At: s.At, CPUCores: s.CPUCores}
		}
		// What was read back is saved already: only starts observed
		// before the read make the log differ from the ConfigMap.
		changed := l.changed
		l.add(starts)
		l.changed = changed
	}
	l.loaded = true
	return nil
}

// save writes l to namespace if it changed since the last save. Not
// before the saved log has been read back: writing then would replace the
// starts the last leader saw with only those this process has.
func (l *startLog) save(ctx context.Context, kube kubernetes.Interface, namespace string) error {
	if !l.changed || !l.loaded {
		return nil
	}
	data, err := json.Marshal(l.entries())
	if err != nil {
		return fmt.Errorf("encoding the start log: %w", err)
	}
	cms := kube.CoreV1().ConfigMaps(namespace)
	cm, err := cms.Get(ctx, StartsConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: StartsConfigMap, Namespace: namespace},
			Data: map[string]string{startsKey: string(data)}}, metav1.CreateOptions{})
	case err == nil:
		cm.Data = map[string]string{startsKey: string(data)}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("saving the start log %s/%s: %w", namespace, StartsConfigMap, err)
	}
	l.changed = false
	return nil
}

// entries is the log to save: the newest maxSavedStarts starts, oldest
// first, ties by UID, so that the same log encodes the same.
func (l *startLog) entries() []loggedStart {
	out := make([]loggedStart, 0, len(l.seen))
	for uid, s := range l.seen {
		out = append(out, loggedStart{UID: uid, Node: s.Node, At: s.At.UTC(), CPUCores: s.CPUCores})
	}
	slices.SortFunc(out, func(a, b loggedStart) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.UID, b.UID)
	})
	return out[max(0, len(out)-maxSavedStarts):]
}
