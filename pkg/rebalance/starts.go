package rebalance

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// startLog remembers where and when the VM instances the rebalancer saw
// running started, for DisplacementWindow, so that a pass counts as
// arrivals the ones that have departed since too (Input.Starts). It lives
// as long as the controller: a restart or a new leader starts it again
// from the instances running then, and for a day arrivals miss the VMs
// that departed before, as they all did before it existed.
type startLog struct {
	seen map[types.UID]Start
}

// observe records the instances running now (by UID, where and when each
// started), forgets those that started more than DisplacementWindow ago,
// and returns the starts it remembers, running or not. An instance keeps
// the node it was first seen on: a migration is no arrival.
func (l *startLog) observe(now time.Time, running map[types.UID]Start) []Start {
	if l.seen == nil {
		l.seen = map[types.UID]Start{}
	}
	for uid, s := range running {
		if _, ok := l.seen[uid]; !ok {
			l.seen[uid] = s
		}
	}
	starts := make([]Start, 0, len(l.seen))
	for uid, s := range l.seen {
		if now.Sub(s.At) > DisplacementWindow {
			delete(l.seen, uid)
			continue
		}
		starts = append(starts, s)
	}
	return starts
}
