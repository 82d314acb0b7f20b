package carbonscaler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// cappingPolicy is a policy whose last pass read 480 g/kWh in ES and capped
// its HPAs.
func cappingPolicy(evaluated time.Time) *v1alpha1.CarbonScalingPolicy {
	at := metav1.NewTime(evaluated)
	return &v1alpha1.CarbonScalingPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 2},
		Spec: v1alpha1.CarbonScalingPolicySpec{Zone: "ES", HPASelector: &metav1.LabelSelector{},
			Bands: []v1alpha1.CarbonScalingBand{{AboveGramsPerKWh: 300, MaxReplicasPercent: 50}}},
		Status: v1alpha1.CarbonScalingPolicyStatus{ObservedGeneration: 2, LastEvaluated: &at, GramsPerKWh: ptr.To[int32](480), ActiveBand: ptr.To[int32](0),
			Conditions: []metav1.Condition{
				{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Applied", Message: "1 HPAs evaluated", LastTransitionTime: at},
				{Type: ConditionCapping, Status: metav1.ConditionTrue, Reason: "BandInForce", Message: "480 gCO2eq/kWh in ES", LastTransitionTime: at},
			}},
	}
}

func policyAfterPass(t *testing.T, s *Scaler) *v1alpha1.CarbonScalingPolicy {
	t.Helper()
	got, err := s.cfg.HyperSDK.HypersdkV1alpha1().CarbonScalingPolicies().Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestUnlistedHPAsAreNotReady: when the HPAs cannot be listed, the policy
// says so instead of keeping the last pass's Ready and its time.
func TestUnlistedHPAsAreNotReady(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	before := clk.Now().Add(-time.Hour)
	kube := kubefake.NewSimpleClientset()
	kube.PrependReactor("list", "horizontalpodautoscalers", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, "",
			errors.New("RBAC says no"))
	})
	provider, err := carbon.NewFixedProvider(clk, map[string]float64{"ES": 480})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(cappingPolicy(before)), Carbon: provider, Clock: clk})
	if err := s.Pass(context.Background()); err == nil {
		t.Fatal("pass: no error, want the failed HPA list")
	}
	got := policyAfterPass(t, s)
	ready := meta.FindStatusCondition(got.Status.Conditions, ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != "ReadFailed" || !strings.Contains(ready.Message, "RBAC says no") {
		t.Errorf("Ready after a pass that could not list the HPAs: %+v", ready)
	}
	if !got.Status.LastEvaluated.Time.Equal(before) {
		t.Errorf("lastEvaluated %v, want the last pass's %v: nothing was evaluated", got.Status.LastEvaluated, before)
	}
}

// TestUnreadIntensityIsNotCapping: when the policy's zone has no intensity,
// Capping does not stay True from the last reading.
func TestUnreadIntensityIsNotCapping(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	before := clk.Now().Add(-time.Hour)
	provider, err := carbon.NewFixedProvider(clk, map[string]float64{"NO": 20}) // nothing for ES
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Kube: kubefake.NewSimpleClientset(), HyperSDK: hyperfake.NewSimpleClientset(cappingPolicy(before)), Carbon: provider, Clock: clk})
	if err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := policyAfterPass(t, s)
	capping := meta.FindStatusCondition(got.Status.Conditions, ConditionCapping)
	if capping == nil || capping.Status != metav1.ConditionUnknown || capping.Reason != "SignalMissing" || capping.ObservedGeneration != 2 {
		t.Errorf("Capping with ES unreadable: %+v, want Unknown (SignalMissing)", capping)
	}
	// The caps stay as they were, and so does the band in force.
	if got.Status.GramsPerKWh != nil || ptr.Deref(got.Status.ActiveBand, -1) != 0 || !got.Status.LastEvaluated.Time.Equal(before) {
		t.Errorf("status with ES unreadable: %d g/kWh, band %d, evaluated %v; want none, the band before (0), %v",
			ptr.Deref(got.Status.GramsPerKWh, -1), ptr.Deref(got.Status.ActiveBand, -1), got.Status.LastEvaluated, before)
	}
	if ready := meta.FindStatusCondition(got.Status.Conditions, ConditionReady); ready == nil || ready.Status != metav1.ConditionFalse {
		t.Errorf("Ready with ES unreadable: %+v, want False", ready)
	}

	// Bands changed since the last pass: the index named another band.
	edited := cappingPolicy(before)
	edited.Generation = 3
	s = New(Config{Kube: kubefake.NewSimpleClientset(), HyperSDK: hyperfake.NewSimpleClientset(edited), Carbon: provider, Clock: clk})
	if err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if band := policyAfterPass(t, s).Status.ActiveBand; band != nil {
		t.Errorf("band %d kept across an edit of the policy while ES is unreadable, want none", *band)
	}
}

// cappedHPA is an HPA of its own maximum 10 that policy by capped at 5.
func cappedHPA(name, by string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: map[string]string{
			CappedByAnnotation: by, OriginalMaxAnnotation: "10", CappedMaxAnnotation: "5"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5},
	}
}

func maxReplicas(t *testing.T, s *Scaler, name string) int32 {
	t.Helper()
	hpa, err := s.cfg.Kube.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return hpa.Spec.MaxReplicas
}

// TestOverrideNeedsNoSignal: an override lifts the caps when the zone's
// intensity cannot be read too; lifting a cap needs no reading, and the
// status says the caps are lifted.
func TestOverrideNeedsNoSignal(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	p := cappingPolicy(clk.Now().Add(-time.Hour))
	p.Spec.OverrideUntil = &metav1.Time{Time: clk.Now().Add(time.Hour)}
	provider, err := carbon.NewFixedProvider(clk, map[string]float64{"NO": 20}) // nothing for ES
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Kube: kubefake.NewSimpleClientset(cappedHPA("web", "p")), HyperSDK: hyperfake.NewSimpleClientset(p), Carbon: provider, Clock: clk})
	s.recorder = record.NewFakeRecorder(10)
	if err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := maxReplicas(t, s, "web"); got != 10 {
		t.Errorf("maxReplicas under an override with ES unreadable: %d, want its own 10", got)
	}
}

// TestOneFailedRestoreHoldsNoOther: an HPA whose restore keeps failing
// does not keep the HPAs listed after it capped.
func TestOneFailedRestoreHoldsNoOther(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	kube := kubefake.NewSimpleClientset(cappedHPA("a", "gone"), cappedHPA("b", "gone"))
	kube.PrependReactor("patch", "horizontalpodautoscalers", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() == "a" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, "a",
				errors.New("a webhook says no"))
		}
		return false, nil, nil
	})
	s := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(), Clock: clk})
	s.recorder = record.NewFakeRecorder(10)
	if err := s.Pass(context.Background()); err == nil || !strings.Contains(err.Error(), "a webhook says no") {
		t.Errorf("pass: %v, want a's refusal", err)
	}
	if got := maxReplicas(t, s, "b"); got != 10 {
		t.Errorf("maxReplicas of b, whose policy is gone, after a's restore failed: %d, want 10", got)
	}
}

// countingProvider counts the zones it is asked for.
type countingProvider struct {
	carbon.Provider
	asked map[string]int
}

func (c *countingProvider) Current(ctx context.Context, zone string) (carbon.Intensity, error) {
	c.asked[zone]++
	return c.Provider.Current(ctx, zone)
}

// TestHPAZonesAreNodesZones: an HPA's own zone (its annotation, which
// whoever may edit it writes) is read only when a node is in it: the
// shared provider is not asked for made-up zones, and the HPA keeps its
// maximum, the policy saying why.
func TestHPAZonesAreNodesZones(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	fixed, err := carbon.NewFixedProvider(clk, map[string]float64{"ES": 480, "NO": 20})
	if err != nil {
		t.Fatal(err)
	}
	provider := &countingProvider{Provider: fixed, asked: map[string]int{}}
	hpa := func(name, zone string) *autoscalingv2.HorizontalPodAutoscaler {
		return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name,
			Annotations: map[string]string{carbon.ZoneKey: zone}}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 10}}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{carbon.ZoneKey: "NO"}}}
	kube := kubefake.NewSimpleClientset(node, hpa("in-no", "NO"), hpa("made-up", "x1"))
	s := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(cappingPolicy(clk.Now().Add(-time.Hour))), Carbon: provider, Clock: clk})
	s.recorder = record.NewFakeRecorder(10)
	if err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if provider.asked["x1"] != 0 || provider.asked["NO"] == 0 {
		t.Errorf("zones asked %v, want NO and not x1", provider.asked)
	}
	if got := maxReplicas(t, s, "made-up"); got != 10 {
		t.Errorf("the HPA of a made-up zone: maxReplicas %d, want its 10", got)
	}
	ready := meta.FindStatusCondition(policyAfterPass(t, s).Status.Conditions, ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, `no node is in zone "x1"`) {
		t.Errorf("Ready %+v, want False naming the made-up zone", ready)
	}
}

// staleProvider serves its provider's readings as the cache serves the last
// good one while the source fails: Stale, for the hour before.
type staleProvider struct{ carbon.Provider }

func (s staleProvider) Current(ctx context.Context, zone string) (carbon.Intensity, error) {
	in, err := s.Provider.Current(ctx, zone)
	in.Freshness, in.At = carbon.Stale, in.At.Add(-3*time.Hour)
	return in, err
}

// TestStaleReadingsAreSaid: a pass on the last readings before the carbon
// source stopped answering still holds the caps (a value hours old still
// tells a dirty grid), but Ready says it was stale and of which hour, not Applied.
func TestStaleReadingsAreSaid(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	fixed, err := carbon.NewFixedProvider(clk, map[string]float64{"ES": 480})
	if err != nil {
		t.Fatal(err)
	}
	hpa := cappedHPA("web", "p") // capped by the last pass, as the reading still wants
	s := New(Config{Kube: kubefake.NewSimpleClientset(hpa), HyperSDK: hyperfake.NewSimpleClientset(cappingPolicy(clk.Now().Add(-time.Hour))),
		Carbon: staleProvider{fixed}, Clock: clk})
	if err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := maxReplicas(t, s, "web"); got != 5 {
		t.Errorf("maxReplicas %d on a stale 480 g/kWh, want the cap of 5 kept", got)
	}
	ready := meta.FindStatusCondition(policyAfterPass(t, s).Status.Conditions, ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != "AppliedOnStaleReadings" || !strings.Contains(ready.Message, "zone ES") {
		t.Errorf("Ready on stale readings: %+v, want True, AppliedOnStaleReadings, naming zone ES", ready)
	}
}

// TestACapLiftsOnlyWellBelowItsBand: an intensity that falls just under a
// band's threshold keeps its cap (and the policy's band), so one that
// hovers there does not cap and lift at every pass; one a tenth below
// lifts it. An HPA not capped is not capped under the threshold.
func TestACapLiftsOnlyWellBelowItsBand(t *testing.T) {
	for _, tc := range []struct {
		g          float64
		capped     int32 // maxReplicas of the HPA capped before
		band       *int32
		uncappedTo int32
	}{{290, 5, ptr.To[int32](0), 10}, {271, 5, ptr.To[int32](0), 10}, {269, 10, nil, 10}} {
		clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
		provider, err := carbon.NewFixedProvider(clk, map[string]float64{"ES": tc.g})
		if err != nil {
			t.Fatal(err)
		}
		fresh := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "fresh"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 10}}
		s := New(Config{Kube: kubefake.NewSimpleClientset(cappedHPA("web", "p"), fresh),
			HyperSDK: hyperfake.NewSimpleClientset(cappingPolicy(clk.Now().Add(-time.Minute))), Carbon: provider, Clock: clk})
		s.recorder = record.NewFakeRecorder(10)
		if err := s.Pass(context.Background()); err != nil {
			t.Fatal(err)
		}
		band := policyAfterPass(t, s).Status.ActiveBand
		if got, fresh := maxReplicas(t, s, "web"), maxReplicas(t, s, "fresh"); got != tc.capped || fresh != tc.uncappedTo ||
			(band == nil) != (tc.band == nil) || band != nil && *band != *tc.band {
			t.Errorf("at %.0f g/kWh under a band from 300: capped HPA %d, uncapped HPA %d, band %v; want %d, %d, %v",
				tc.g, got, fresh, ptr.Deref(band, -1), tc.capped, tc.uncappedTo, ptr.Deref(tc.band, -1))
		}
	}
}

// TestBandHeldAcrossAFailedRead: after a pass that could not read the
// intensity, a reading between the band's lifting margin and its threshold
// keeps both the caps and the band in the status.
func TestBandHeldAcrossAFailedRead(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	fixed, err := carbon.NewFixedProvider(clk, map[string]float64{"NO": 20})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := &countingProvider{Provider: fixed, asked: map[string]int{}}
	s := New(Config{Kube: kubefake.NewSimpleClientset(cappedHPA("web", "p"), cappedHPA("api", "p")),
		HyperSDK: hyperfake.NewSimpleClientset(cappingPolicy(clk.Now().Add(-time.Minute))), Carbon: elsewhere, Clock: clk})
	s.recorder = record.NewFakeRecorder(10)
	if err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := policyAfterPass(t, s)
	if band := ptr.Deref(p.Status.ActiveBand, -1); band != 0 {
		t.Fatalf("band %d after a failed read, want the band before (0) kept", band)
	}
	// The zone that cannot be read is asked for, and said, once a pass.
	if ready := meta.FindStatusCondition(p.Status.Conditions, ConditionReady); elsewhere.asked["ES"] != 1 || ready == nil ||
		strings.Count(ready.Message, "zone ES") != 1 {
		t.Errorf("ES asked %d times, Ready %+v; want once, said once", elsewhere.asked["ES"], ready)
	}
	if s.cfg.Carbon, err = carbon.NewFixedProvider(clk, map[string]float64{"ES": 285}); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Minute)
	if err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	p = policyAfterPass(t, s)
	capping := meta.FindStatusCondition(p.Status.Conditions, ConditionCapping)
	if got := maxReplicas(t, s, "web"); got != 5 || ptr.Deref(p.Status.ActiveBand, -1) != 0 || capping == nil || capping.Reason != "BandInForce" {
		t.Errorf("at 285 g/kWh after a failed read: maxReplicas %d, band %d, capping %+v; want 5, band 0 in force", got, ptr.Deref(p.Status.ActiveBand, -1), capping)
	}
}

// TestBandFor: rising into a band caps at once; a band in force holds
// until the intensity is a tenth below it, and falling through several
// bands lands on the highest one still within its margin.
func TestBandFor(t *testing.T) {
	bands := []v1alpha1.CarbonScalingBand{{AboveGramsPerKWh: 200}, {AboveGramsPerKWh: 300}, {AboveGramsPerKWh: 400}}
	for _, tc := range []struct {
		g             float64
		current, want int
	}{
		{450, -1, 2}, {310, 0, 1}, {190, -1, -1}, // rising, or none
		{370, 2, 2}, {359, 2, 1}, {280, 2, 1}, {269, 2, 0}, {185, 0, 0}, {179, 0, -1}, // falling
	} {
		if got := bandFor(bands, tc.g, tc.current); got != tc.want {
			t.Errorf("at %.0f from band %d: band %d, want %d", tc.g, tc.current, got, tc.want)
		}
	}
}
