// Package carbonscaler caps HorizontalPodAutoscalers while their grid is
// dirty, as CarbonScalingPolicies say: the carbon-aware-keda-operator's
// pattern, for plain HPAs. Each pass reads every policy's zone intensity,
// lowers the maxReplicas of the HPAs it selects to its band's share
// (never below minReplicas), gives them their own maximum back below the
// lowest band or during an override, and says what it did in the policy's
// status and in events on the HPAs.
package carbonscaler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/passloop"
)

// Annotations on a capped HPA: its own maximum, to give back, and the
// policy that capped it, so two policies never fight over one HPA.
const (
	OriginalMaxAnnotation = "hypersdk.io/original-max-replicas"
	CappedByAnnotation    = "hypersdk.io/carbon-capped-by"
	// CappedMaxAnnotation is the maxReplicas the cap wrote: one that
	// differs from it is a person's edit since, and their new maximum.
	CappedMaxAnnotation = "hypersdk.io/carbon-capped-max-replicas"
)

// Conditions of a policy.
const (
	// ConditionReady is True when the last pass read every intensity it
	// needed and applied the caps.
	ConditionReady = "Ready"
	// ConditionCapping is True while a band is in force in the policy's zone.
	ConditionCapping = "Capping"
)

// Config of a Scaler.
type Config struct {
	Kube     kubernetes.Interface
	HyperSDK hypersdkclient.Interface
	// Carbon gives zone intensities; with none every policy says so and
	// no HPA is touched.
	Carbon carbon.Provider
	// Interval between passes.
	Interval time.Duration
	Clock    clock.Clock
}

// Scaler applies CarbonScalingPolicies.
type Scaler struct {
	cfg      Config
	recorder record.EventRecorder
}

// New returns a scaler; Run starts it.
func New(cfg Config) *Scaler {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Scaler{cfg: cfg}
}

// Run makes a pass every interval until ctx ends.
func (s *Scaler) Run(ctx context.Context) error {
	return passloop.Run(ctx, s.cfg.Kube, "hypersdk-carbon-scaler", s.cfg.Interval,
		func(r record.EventRecorder) { s.recorder = r }, s.Pass)
}

// Pass applies every policy once, and gives their maximum back to HPAs
// whose policy is gone or no longer selects them.
func (s *Scaler) Pass(ctx context.Context) error {
	policies, err := s.cfg.HyperSDK.HypersdkV1alpha1().CarbonScalingPolicies().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing carbon scaling policies: %w", err)
	}
	// The live policies' selectors; nil for one that cannot be read, which
	// keeps its caps rather than guess.
	live := map[string]labels.Selector{}
	zones, zerr := s.nodeZones(ctx)
	for i := range policies.Items {
		p := &policies.Items[i]
		live[p.Name], _ = metav1.LabelSelectorAsSelector(p.Spec.HPASelector)
		if err := s.sync(ctx, p, zones, zerr); err != nil {
			klog.FromContext(ctx).Error(err, "Applying carbon scaling policy", "policy", p.Name)
		}
	}
	hpas, err := s.cfg.Kube.AutoscalingV2().HorizontalPodAutoscalers(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing HorizontalPodAutoscalers: %w", err)
	}
	// One HPA whose restore keeps failing (an admission webhook refusing
	// it) must not keep the ones listed after it capped.
	var errs []error
	for i := range hpas.Items {
		hpa := &hpas.Items[i]
		by := hpa.Annotations[CappedByAnnotation]
		if by == "" {
			continue
		}
		why := ""
		switch sel, ok := live[by]; {
		case !ok:
			why = fmt.Sprintf("carbon scaling policy %s is gone", by)
		case sel != nil && !sel.Matches(labels.Set(hpa.Labels)):
			why = fmt.Sprintf("carbon scaling policy %s no longer selects it", by)
		default:
			continue
		}
		if err := s.restore(ctx, hpa, why); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sync applies one policy and writes what it did to its status.
// nodeZones returns the carbon zones of the cluster's nodes.
func (s *Scaler) nodeZones(ctx context.Context) (map[string]bool, error) {
	nodes, err := s.cfg.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes for their carbon zones: %w", err)
	}
	zones := map[string]bool{}
	for _, n := range nodes.Items {
		if z, ok := carbon.ZoneOf(n.Labels, n.Annotations); ok {
			zones[z] = true
		}
	}
	return zones, nil
}

// sync applies p to the HPAs it selects. An HPA's own zone (its
// hypersdk.io/carbon-zone annotation) is read only when it is a node's
// (zones; zerr says why they are unknown): whoever may annotate an HPA
// would otherwise have the shared carbon provider asked for any number of
// names, spending its rate limit and the metrics' series.
func (s *Scaler) sync(ctx context.Context, p *v1alpha1.CarbonScalingPolicy, zones map[string]bool, zerr error) error {
	now := metav1.NewTime(s.cfg.Clock.Now())
	hpas, err := s.selected(ctx, p)
	if err != nil {
		// The caps stay as they were; the status must not say they were
		// just evaluated.
		st := p.Status.DeepCopy()
		st.ObservedGeneration = p.Generation
		setCondition(st, p.Generation, ConditionReady, metav1.ConditionFalse, "ReadFailed", err.Error(), now)
		return errors.Join(err, s.writeStatus(ctx, p, *st))
	}
	// LastEvaluated moves only when the intensity is read.
	st := v1alpha1.CarbonScalingPolicyStatus{ObservedGeneration: p.Generation, LastEvaluated: p.Status.LastEvaluated, Conditions: p.Status.Conditions}
	override := p.Spec.OverrideUntil != nil && now.Before(p.Spec.OverrideUntil)
	intensities := map[string]float64{}
	unread := map[string]bool{} // asked once a pass, said once
	var failures, stale []string
	read := func(zone string) (float64, bool) {
		if g, ok := intensities[zone]; ok || unread[zone] {
			return g, ok
		}
		unread[zone] = true
		if s.cfg.Carbon == nil {
			failures = append(failures, "no carbon intensity provider is configured (--carbon-provider)")
			return 0, false
		}
		in, err := carbon.Read(ctx, s.cfg.Carbon, zone)
		if err != nil {
			failures = append(failures, fmt.Sprintf("zone %s: %v", zone, err))
			return 0, false
		}
		delete(unread, zone)
		intensities[zone] = in.GramsPerKWh
		if in.Freshness == carbon.Stale {
			stale = append(stale, fmt.Sprintf("zone %s (the reading for %s)", zone, in.At.UTC().Format(time.RFC3339)))
		}
		return in.GramsPerKWh, true
	}
	if g, ok := read(p.Spec.Zone); ok {
		st.LastEvaluated = &now
		st.GramsPerKWh = ptr.To(int32(math.Round(g)))
		if b := bandFor(p.Spec.Bands, g, int(ptr.Deref(p.Status.ActiveBand, -1))); b >= 0 && !override {
			st.ActiveBand = ptr.To(int32(b))
		}
	} else if !override && p.Status.ObservedGeneration == p.Generation {
		// Unread, the caps stay as they were, and so does the band in
		// force: the next reading is judged from it (else a reading within
		// the band's lifting margin would be said Clean while the caps,
		// judged each from their own, held). Not across a change of the
		// bands: the index would name another.
		st.ActiveBand = p.Status.ActiveBand
	}
	for i := range hpas {
		hpa := &hpas[i]
		if by := hpa.Annotations[CappedByAnnotation]; by != "" && by != p.Name {
			continue // another policy caps it
		}
		zone := p.Spec.Zone
		if z := hpa.Annotations[carbon.ZoneKey]; z != "" {
			zone = z
		}
		entry := v1alpha1.CarbonCappedHPA{Namespace: hpa.Namespace, Name: hpa.Name, Zone: zone,
			OriginalMaxReplicas: original(hpa), MaxReplicas: hpa.Spec.MaxReplicas}
		if zone != p.Spec.Zone && !zones[zone] && !override {
			why := fmt.Sprintf("no node is in zone %q", zone)
			if zerr != nil {
				why = zerr.Error()
			}
			failures = append(failures, fmt.Sprintf("HPA %s/%s: its %s annotation is not read: %s", hpa.Namespace, hpa.Name, carbon.ZoneKey, why))
			st.HPAs = append(st.HPAs, entry) // caps stay as they were, as without a signal
			continue
		}
		if override {
			// Lifting a cap needs no reading: an override holds when the
			// carbon source is down too.
			err = s.restore(ctx, hpa, fmt.Sprintf("override of policy %s until %s", p.Name, p.Spec.OverrideUntil.UTC().Format(time.RFC3339)))
		} else {
			g, ok := read(zone)
			if !ok {
				st.HPAs = append(st.HPAs, entry) // caps stay as they were: no signal is no reason to scale
				continue
			}
			if band := bandFor(p.Spec.Bands, g, cappedBand(hpa, p)); band < 0 {
				err = s.restore(ctx, hpa, fmt.Sprintf("zone %s is at %.0f gCO2eq/kWh, below policy %s's lowest band (%d)", zone, g,
					p.Name, p.Spec.Bands[0].AboveGramsPerKWh))
			} else {
				err = s.cap(ctx, hpa, p, p.Spec.Bands[band], zone, g)
			}
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("HPA %s/%s: %v", hpa.Namespace, hpa.Name, err))
		}
		entry.OriginalMaxReplicas, entry.MaxReplicas = original(hpa), hpa.Spec.MaxReplicas
		st.HPAs = append(st.HPAs, entry)
	}
	if len(failures) > 0 {
		setCondition(&st, p.Generation, ConditionReady, metav1.ConditionFalse, "Failed", fmt.Sprint(failures), now)
	} else if len(stale) > 0 {
		// Acted on, as a value a few hours old still tells a clean grid
		// from a dirty one, but said: the source has stopped answering.
		setCondition(&st, p.Generation, ConditionReady, metav1.ConditionTrue, "AppliedOnStaleReadings",
			fmt.Sprintf("%d HPAs evaluated on the last readings before the carbon source stopped answering: %s", len(st.HPAs), strings.Join(stale, ", ")), now)
	} else {
		setCondition(&st, p.Generation, ConditionReady, metav1.ConditionTrue, "Applied", fmt.Sprintf("%d HPAs evaluated", len(st.HPAs)), now)
	}
	switch {
	case override:
		setCondition(&st, p.Generation, ConditionCapping, metav1.ConditionFalse, "Override", "caps lifted until "+p.Spec.OverrideUntil.UTC().Format(time.RFC3339), now)
	case st.GramsPerKWh == nil:
		setCondition(&st, p.Generation, ConditionCapping, metav1.ConditionUnknown, "SignalMissing",
			fmt.Sprintf("the intensity of %s could not be read: the HPAs keep the maximum they had", p.Spec.Zone), now)
	case st.ActiveBand != nil:
		b := p.Spec.Bands[*st.ActiveBand]
		setCondition(&st, p.Generation, ConditionCapping, metav1.ConditionTrue, "BandInForce",
			fmt.Sprintf("%d gCO2eq/kWh in %s: the band from %d (lifted below %.0f) is in force: maxReplicas capped to %d%%", *st.GramsPerKWh, p.Spec.Zone,
				b.AboveGramsPerKWh, float64(b.AboveGramsPerKWh)*(1-ReleaseFraction), b.MaxReplicasPercent), now)
	default:
		setCondition(&st, p.Generation, ConditionCapping, metav1.ConditionFalse, "Clean",
			fmt.Sprintf("%d gCO2eq/kWh in %s is below %d", *st.GramsPerKWh, p.Spec.Zone, p.Spec.Bands[0].AboveGramsPerKWh), now)
	}
	return s.writeStatus(ctx, p, st)
}

// writeStatus replaces p's status with st.
func (s *Scaler) writeStatus(ctx context.Context, p *v1alpha1.CarbonScalingPolicy, st v1alpha1.CarbonScalingPolicyStatus) error {
	updated := p.DeepCopy()
	updated.Status = st
	if _, err := s.cfg.HyperSDK.HypersdkV1alpha1().CarbonScalingPolicies().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of carbon scaling policy %s: %w", p.Name, err)
	}
	return nil
}

// selected lists the HPAs p selects.
func (s *Scaler) selected(ctx context.Context, p *v1alpha1.CarbonScalingPolicy) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	selector, err := metav1.LabelSelectorAsSelector(p.Spec.HPASelector)
	if err != nil {
		return nil, fmt.Errorf("policy %s's hpaSelector: %w", p.Name, err)
	}
	hpas, err := s.cfg.Kube.AutoscalingV2().HorizontalPodAutoscalers(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("listing the HPAs policy %s selects: %w", p.Name, err)
	}
	return hpas.Items, nil
}

// activeBand is the index of the highest band g reaches, -1 for none.
func activeBand(bands []v1alpha1.CarbonScalingBand, g float64) int {
	active := -1
	for i, b := range bands {
		if g >= float64(b.AboveGramsPerKWh) {
			active = i
		}
	}
	return active
}

// ReleaseFraction is how far below a band's threshold the intensity must
// fall for the band's cap to lift (to a lower band's, or none): an
// intensity that hovers at a threshold (five-minute readings) would
// otherwise cap and lift the HPAs at every pass, restarting pods each
// time. Rising into a band caps at once.
const ReleaseFraction = 0.1

// bandFor is the band an intensity of g puts an HPA (or the policy) in that
// was in band current (-1: none): the highest band g reaches, or a higher
// one it was in whose threshold g is not ReleaseFraction below.
func bandFor(bands []v1alpha1.CarbonScalingBand, g float64, current int) int {
	b := activeBand(bands, g)
	for k := min(current, len(bands)-1); k > b; k-- {
		if g >= float64(bands[k].AboveGramsPerKWh)*(1-ReleaseFraction) {
			return k
		}
	}
	return b
}

// cappedBand is the band whose cap p holds hpa at (the highest, should two
// give the same maximum), -1 if p does not cap it.
func cappedBand(hpa *autoscalingv2.HorizontalPodAutoscaler, p *v1alpha1.CarbonScalingPolicy) int {
	if hpa.Annotations[CappedByAnnotation] != p.Name {
		return -1
	}
	wrote, err := strconv.ParseInt(hpa.Annotations[CappedMaxAnnotation], 10, 32)
	if err != nil {
		return -1
	}
	for k := len(p.Spec.Bands) - 1; k >= 0; k-- {
		if capped(original(hpa), ptr.Deref(hpa.Spec.MinReplicas, 1), p.Spec.Bands[k].MaxReplicasPercent) == int32(wrote) {
			return k
		}
	}
	return -1
}

// original is an HPA's own maximum: the one it had before a cap, or the
// one a person set while it was capped (kubectl edit of maxReplicas), which
// the cap then applies to and which comes back when the cap is lifted.
func original(hpa *autoscalingv2.HorizontalPodAutoscaler) int32 {
	if wrote, err := strconv.ParseInt(hpa.Annotations[CappedMaxAnnotation], 10, 32); err == nil && int32(wrote) != hpa.Spec.MaxReplicas {
		return hpa.Spec.MaxReplicas
	}
	if v, err := strconv.ParseInt(hpa.Annotations[OriginalMaxAnnotation], 10, 32); err == nil && v > 0 {
		return int32(v)
	}
	return hpa.Spec.MaxReplicas
}

// capped is the band's share of own, rounded up, never below floor (nor 1).
func capped(own, floor, percent int32) int32 {
	return max(int32(math.Ceil(float64(own)*float64(percent)/100)), floor, 1)
}

// cap sets an HPA's maxReplicas to the band's share of its own maximum,
// remembering that maximum on the HPA, if the policy's requester may patch
// the HPA: the controller changes nothing its author could not.
func (s *Scaler) cap(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, p *v1alpha1.CarbonScalingPolicy,
	band v1alpha1.CarbonScalingBand, zone string, g float64) error {
	orig := original(hpa)
	want := capped(orig, ptr.Deref(hpa.Spec.MinReplicas, 1), band.MaxReplicasPercent)
	if hpa.Spec.MaxReplicas == want && hpa.Annotations[CappedByAnnotation] == p.Name {
		return nil
	}
	r := p.Spec.Requester
	if r == nil || r.Username == "" {
		return fmt.Errorf("not capped: the policy records no requester, so nobody can be held to have asked for it")
	}
	allowed, reason, err := operations.Allowed(ctx, s.cfg.Kube, r, authorizationv1.ResourceAttributes{Namespace: hpa.Namespace,
		Verb: "patch", Group: autoscalingv2.GroupName, Resource: "horizontalpodautoscalers", Name: hpa.Name})
	if err != nil {
		return err
	}
	if !allowed {
		return fmt.Errorf("not capped: %s, who wrote the policy, may not patch it (%s)", r.Username, reason)
	}
	got, err := s.patch(ctx, hpa, map[string]any{OriginalMaxAnnotation: strconv.Itoa(int(orig)), CappedByAnnotation: p.Name,
		CappedMaxAnnotation: strconv.Itoa(int(want))}, want)
	if err != nil {
		return err
	}
	s.recorder.Eventf(got, corev1.EventTypeNormal, "CarbonCapped",
		"Zone %s is at %.0f gCO2eq/kWh: the band from %d of policy %s is in force: maxReplicas %d -> %d (%d%% of %d)",
		zone, g, band.AboveGramsPerKWh, p.Name, hpa.Spec.MaxReplicas, want, band.MaxReplicasPercent, orig)
	*hpa = *got
	return nil
}

// restore gives a capped HPA its own maximum back.
func (s *Scaler) restore(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, why string) error {
	if hpa.Annotations[CappedByAnnotation] == "" {
		return nil
	}
	got, err := s.patch(ctx, hpa, map[string]any{OriginalMaxAnnotation: nil, CappedByAnnotation: nil, CappedMaxAnnotation: nil}, original(hpa))
	if err != nil {
		return err
	}
	s.recorder.Eventf(got, corev1.EventTypeNormal, "CarbonCapLifted", "%s: maxReplicas %d -> %d", why, hpa.Spec.MaxReplicas, got.Spec.MaxReplicas)
	*hpa = *got
	return nil
}

// patch sets an HPA's maxReplicas and annotations (nil removes one) with a
// merge patch: the HPA controller writes the HPA's status all the time, and
// an update of the whole object would keep losing to it.
func (s *Scaler) patch(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, annotations map[string]any, maxReplicas int32) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	body, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": annotations},
		"spec":     map[string]any{"maxReplicas": maxReplicas},
	})
	if err != nil {
		return nil, err
	}
	return s.cfg.Kube.AutoscalingV2().HorizontalPodAutoscalers(hpa.Namespace).Patch(ctx, hpa.Name, types.MergePatchType, body, metav1.PatchOptions{})
}

func setCondition(st *v1alpha1.CarbonScalingPolicyStatus, generation int64, typ string, status metav1.ConditionStatus, reason, msg string, now metav1.Time) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: strings.ReplaceAll(msg, "\n", "; "),
		ObservedGeneration: generation, LastTransitionTime: now})
}
