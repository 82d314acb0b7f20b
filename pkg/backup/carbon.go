package backup

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// ConditionCarbonAware is True when the last run's hour was chosen on a
// forecast, False (with the reason) when it started at its slot instead.
const ConditionCarbonAware = "CarbonAware"

// A carbon-aware run is planned on the carbon provider's own timeline: the
// hour of Current is "now" there. With a live provider that is wall-clock
// time; in the sandbox it is the replay's simulated time, so a window of
// hours passes in seconds and the plan still names real trace hours.

// plan chooses the hour a run of slot starts: the first of the lowest
// forecast in the window. A nil plan means the run starts at once because
// there is no signal; the condition says why.
func (s *Scheduler) plan(ctx context.Context, b *v1alpha1.BackupSchedule, slot time.Time, vms []string) (*v1alpha1.BackupCarbonPlan, metav1.Condition) {
	w := b.Spec.CarbonWindow
	if s.cfg.Carbon == nil {
		return nil, carbonCondition(false, "NoProvider", "hypersdk-controller runs without a carbon provider (--carbon-provider): the run started at its slot")
	}
	zone := w.Zone
	if zone == "" {
		var err error
		if zone, err = s.zoneOf(ctx, b.Namespace, vms); err != nil {
			return nil, carbonCondition(false, "NoZone", err.Error()+": the run started at its slot")
		}
	}
	cur, err := carbon.Read(ctx, s.cfg.Carbon, zone)
	if err != nil {
		return nil, carbonCondition(false, "NoSignal", fmt.Sprintf("carbon intensity of zone %s: %v: the run started at its slot", zone, err))
	}
	forecast, err := carbon.ReadForecast(ctx, s.cfg.Carbon, zone, w.Within.Duration)
	if err != nil || len(forecast) == 0 {
		return nil, carbonCondition(false, "NoForecast", fmt.Sprintf("carbon forecast of zone %s: %v: the run started at its slot", zone, err))
	}
	best := 0
	for i, f := range forecast {
		if f.GramsPerKWh < forecast[best].GramsPerKWh {
			best = i
		}
	}
	p := &v1alpha1.BackupCarbonPlan{
		Slot: metav1.NewTime(slot), Zone: zone,
		WindowStart:         metav1.NewTime(forecast[0].At),
		RunAt:               metav1.NewTime(forecast[best].At),
		ForecastGramsPerKWh: grams(forecast[best].GramsPerKWh),
		SlotGramsPerKWh:     grams(cur.GramsPerKWh),
	}
	if !cur.At.Before(p.RunAt.Time) {
		p.StartedAt, p.StartedGramsPerKWh = &metav1.Time{Time: cur.At}, grams(cur.GramsPerKWh)
		return p, carbonCondition(true, "Started", fmt.Sprintf("the run of %s started at once: its hour is the cleanest forecast in zone %s within %s (%d g/kWh)",
			slot.UTC().Format(time.RFC3339), zone, w.Within.Duration, p.ForecastGramsPerKWh))
	}
	return p, carbonCondition(true, "Waiting", fmt.Sprintf("the run of %s waits for %s, the cleanest forecast hour in zone %s within %s (%d g/kWh, %d now)",
		slot.UTC().Format(time.RFC3339), p.RunAt.UTC().Format(time.RFC3339), zone, w.Within.Duration, p.ForecastGramsPerKWh, p.SlotGramsPerKWh))
}

// due says whether a waiting run starts now, and records its start in p: at
// its hour or later, at the end of its window whatever the forecast said,
// and at once when the signal is lost (a backup is not skipped for want of
// a forecast).
func (s *Scheduler) due(ctx context.Context, b *v1alpha1.BackupSchedule, p *v1alpha1.BackupCarbonPlan, now time.Time) (bool, *metav1.Condition) {
	cur, err := s.currentOf(ctx, p.Zone)
	if err != nil {
		p.StartedAt = &metav1.Time{Time: now}
		c := carbonCondition(false, "NoSignal", fmt.Sprintf("carbon intensity of zone %s: %v: the waiting run started at once", p.Zone, err))
		return true, &c
	}
	end := p.WindowStart.Add(b.Spec.CarbonWindow.Within.Duration)
	if cur.At.Before(p.RunAt.Time) && cur.At.Before(end) && now.Before(p.Slot.Add(b.Spec.CarbonWindow.Within.Duration)) {
		return false, nil
	}
	p.StartedAt, p.StartedGramsPerKWh = &metav1.Time{Time: cur.At}, grams(cur.GramsPerKWh)
	c := carbonCondition(true, "Started", fmt.Sprintf("the run of %s started at %s in zone %s: %d g/kWh (forecast %d, %d at the slot)",
		p.Slot.UTC().Format(time.RFC3339), cur.At.UTC().Format(time.RFC3339), p.Zone, p.StartedGramsPerKWh, p.ForecastGramsPerKWh, p.SlotGramsPerKWh))
	return true, &c
}

func (s *Scheduler) currentOf(ctx context.Context, zone string) (carbon.Intensity, error) {
	if s.cfg.Carbon == nil {
		return carbon.Intensity{}, fmt.Errorf("no carbon provider")
	}
	return carbon.Read(ctx, s.cfg.Carbon, zone)
}

// zoneOf is the grid zone of the nodes that run most of vms (ties: the
// first zone by name).
func (s *Scheduler) zoneOf(ctx context.Context, ns string, vms []string) (string, error) {
	vmis, err := s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing the VM instances of namespace %s: %w", ns, err)
	}
	want := map[string]bool{}
	for _, vm := range vms {
		want[vm] = true
	}
	count, zones := map[string]int{}, map[string]string{}
	for _, vmi := range vmis.Items {
		node := vmi.Status.NodeName
		if !want[vmi.Name] || node == "" {
			continue
		}
		zone, seen := zones[node]
		if !seen {
			n, err := s.cfg.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return "", fmt.Errorf("reading node %s: %w", node, err)
			}
			zone, _ = carbon.ZoneOf(n.Labels, n.Annotations)
			zones[node] = zone
		}
		if zone != "" {
			count[zone]++
		}
	}
	if len(count) == 0 {
		return "", fmt.Errorf("none of the %d selected VMs runs on a node with a carbon zone, and spec.carbonWindow.zone is empty", len(vms))
	}
	names := make([]string, 0, len(count))
	for z := range count {
		names = append(names, z)
	}
	sort.Strings(names)
	best := names[0]
	for _, z := range names {
		if count[z] > count[best] {
			best = z
		}
	}
	return best, nil
}

func grams(v float64) int32 { return int32(math.Round(v)) }

func carbonCondition(ok bool, reason, msg string) metav1.Condition {
	st := metav1.ConditionTrue
	if !ok {
		st = metav1.ConditionFalse
	}
	return metav1.Condition{Type: ConditionCarbonAware, Status: st, Reason: reason, Message: msg}
}
