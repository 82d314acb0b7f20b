package rebalance

import (
	"time"

	"github.com/hypersdk/hypersdk/pkg/placement"
)

// The migration cost model. A live migration copies the guest's memory
// while the guest keeps running on the source, then runs it on the target:
// for the copy's duration the VM is paid for and powered twice, and the copy
// itself draws energy in the hosts and the network.
const (
	// DirtyFactor: pre-copy resends the pages the guest dirties during the
	// copy, so more than the guest's memory crosses the wire. 1.5 is a
	// middling workload; idle guests copy about 1.0, busy ones several.
	DirtyFactor = 1.5
	// MigrationBytesPerSecond is a 10 Gb/s migration network.
	MigrationBytesPerSecond = 1.25e9
	// KWhPerGB is the energy of moving a gigabyte between two servers of
	// one data centre, hosts' NICs and switches included: the upper end of
	// published in-data-centre estimates, so that a migration's grams are
	// not underestimated.
	KWhPerGB = 0.005
	// MinRemainingLife and MaxRemainingLife bound the VM's expected
	// remaining life, which is taken to be as long as it has run so far (a
	// VM that has run for a week is likely to run for another; one that
	// started a minute ago is not yet known to stay).
	MinRemainingLife = time.Hour
	MaxRemainingLife = 30 * 24 * time.Hour
)

// MigrationCost is what one move costs.
type MigrationCost struct {
	Seconds float64
	Grams   float64
	Dollars float64
}

// EstimateMigration prices moving vm from a node of sourceIntensity (g/kWh,
// zero if unknown) to a node where it scores target: the copy's energy at
// the source's intensity, and the VM's grams and dollars on the target for
// the copy's duration.
func EstimateMigration(vm *placement.VMRequest, target placement.NodeScore, sourceIntensity float64) MigrationCost {
	bytes := vm.MemoryBytes * DirtyFactor
	seconds := bytes / MigrationBytesPerSecond
	hours := seconds / 3600
	copyGrams := placement.GramsCO2PerHour(sourceIntensity, bytes/1e9*KWhPerGB*1000, 0)
	return MigrationCost{
		Seconds: seconds,
		Grams:   copyGrams + target.GramsCO2PerHour*hours,
		Dollars: target.CostPerHour * hours,
	}
}

// remainingLife is the VM's expected remaining life.
func remainingLife(started, now time.Time) time.Duration {
	if started.IsZero() {
		return MinRemainingLife
	}
	return min(max(now.Sub(started), MinRemainingLife), MaxRemainingLife)
}
