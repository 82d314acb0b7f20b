package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/carbonscaler"
	"github.com/hypersdk/hypersdk/test/framework"
)

// upcomingBands picks two bands for zone from the replayed trace ahead of
// simulated now (read here as an oracle, as the test knows the replay): the
// 30% and 70% quantiles of a 48-hour window that visits all three bands and
// comes back under the lower one after being above it, starting a few
// simulated hours from now so the policy is in place first.
func upcomingBands(t *testing.T, zone string) []int32 {
	t.Helper()
	tr, err := carbon.LoadTraceFile(filepath.Join(framework.RepoRoot(), "..", "shared", "data", "carbon", zone+"_2022_hourly.csv"), carbon.Direct)
	if err != nil {
		t.Fatal(err)
	}
	now := env.SimClock.Now()
	for offset := 5; offset < 24*30; offset += 6 {
		var values []float64
		for h := range 48 {
			v, ok := tr.At(now.Add(time.Duration(offset+h) * time.Hour))
			if !ok {
				break
			}
			values = append(values, v)
		}
		if len(values) < 48 {
			break
		}
		sorted := append([]float64(nil), values...)
		sort.Float64s(sorted)
		lo, hi := int32(sorted[14]), int32(sorted[33])
		if lo >= hi {
			continue
		}
		above, middle, back := false, false, false
		for _, v := range values {
			switch {
			case v > float64(hi):
				above = true
			case v > float64(lo) && v < float64(hi)*(1-carbonscaler.ReleaseFraction):
				middle = true // the first band's, also coming down from the second
			case (above || middle) && v < float64(lo)*(1-carbonscaler.ReleaseFraction):
				back = true // a cap lifts only this far below its band
			}
		}
		if above && middle && back {
			return []int32{lo, hi}
		}
	}
	t.Fatalf("no 48-hour window of the %s trace ahead of %s crosses two bands both ways", zone, now)
	return nil
}

// TestCarbonScalingPolicy: as the replayed intensity of a zone moves
// through a policy's bands, the HPAs it selects are capped step by step (70%
// then 40% of their own maximum, never below their minimum) and get their
// maximum back when the grid is clean; the policy's status and the HPAs'
// events say so; an override lifts the caps; bad policies are refused with
// field paths.
func TestCarbonScalingPolicy(t *testing.T) {
	// Mostly waiting (for the replayed intensity to cross the policy's bands): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "carbon-scaling")
	policies := env.HyperSDK.HypersdkV1alpha1().CarbonScalingPolicies()

	bad := &v1alpha1.CarbonScalingPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-bad"},
		Spec: v1alpha1.CarbonScalingPolicySpec{Zone: "ES", HPASelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Bands: []v1alpha1.CarbonScalingBand{{AboveGramsPerKWh: 300, MaxReplicasPercent: 50}, {AboveGramsPerKWh: 200, MaxReplicasPercent: 60}}},
	}
	_, err := policies.Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.bands[1].aboveGramsPerKWh") || !strings.Contains(err.Error(), "spec.bands[1].maxReplicasPercent") {
		t.Errorf("bands out of order: %v, want 422 naming spec.bands[1]", err)
	}
	bad.Spec.HPASelector, bad.Spec.Bands = nil, nil
	if _, err := policies.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "spec.hpaSelector") || !strings.Contains(err.Error(), "spec.bands") {
		t.Errorf("no selector, no bands: %v, want 422 naming both", err)
	}

	hpas := env.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns)
	for name, min := range map[string]int32{"wide": 2, "floor": 5} {
		if _, err := hpas.Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"carbon": ns}},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "pool.kubevirt.io/v1beta1", Kind: "VirtualMachinePool", Name: name},
				MinReplicas:    ptr.To(min), MaxReplicas: 10,
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Watch every change to the HPAs from here on.
	w, err := hpas.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	seen := map[string]map[int32]bool{"wide": {}, "floor": {}}
	events := w.ResultChan()

	// Bands between quantiles of the replay's next simulated days (seconds
	// here), which cross them both ways: the year's quantiles would leave
	// the test at the mercy of a long clean or dirty spell where it starts.
	q := upcomingBands(t, "ES")
	policy, err := policies.Create(ctx, &v1alpha1.CarbonScalingPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.CarbonScalingPolicySpec{
			Zone:        "ES",
			HPASelector: &metav1.LabelSelector{MatchLabels: map[string]string{"carbon": ns}},
			Bands:       []v1alpha1.CarbonScalingBand{{AboveGramsPerKWh: q[0], MaxReplicasPercent: 70}, {AboveGramsPerKWh: q[1], MaxReplicasPercent: 40}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = policies.Delete(context.Background(), policy.Name, metav1.DeleteOptions{}) })

	// wide: 7 (70%), 4 (40%) and 10 again (clean); floor: 7, 5 (40% is 4,
	// below its minimum of 5) and 10.
	want := map[string][]int32{"wide": {10, 7, 4}, "floor": {10, 7, 5}}
	deadline := time.After(framework.Timeout)
	for !allSeen(seen, want) {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the HPA watch ended")
			}
			if ev.Type != watch.Modified && ev.Type != watch.Added {
				continue
			}
			hpa := ev.Object.(*autoscalingv2.HorizontalPodAutoscaler)
			m := hpa.Spec.MaxReplicas
			capped := hpa.Annotations[carbonscaler.CappedByAnnotation] == ns
			// Capped exactly when below its own maximum, and never below its minimum.
			if capped == (m == 10) || m < ptr.Deref(hpa.Spec.MinReplicas, 1) {
				t.Errorf("HPA %s at maxReplicas %d (minimum %d) with capped-by %q", hpa.Name, m,
					ptr.Deref(hpa.Spec.MinReplicas, 1), hpa.Annotations[carbonscaler.CappedByAnnotation])
			}
			// Its own maximum counts once it was given back after a cap.
			if seen[hpa.Name] != nil && (capped || len(seen[hpa.Name]) > 0) {
				seen[hpa.Name][m] = true
			}
		case <-deadline:
			t.Fatalf("HPAs went through %v, want %v", seen, want)
		}
	}

	got, err := policies.Get(ctx, policy.Name, metav1.GetOptions{})
	if err != nil || got.Status.LastEvaluated == nil || got.Status.GramsPerKWh == nil || len(got.Status.HPAs) != 2 ||
		!meta.IsStatusConditionTrue(got.Status.Conditions, carbonscaler.ConditionReady) {
		t.Errorf("policy status: %+v (%v)", got.Status, err)
	}
	framework.Eventually(t, "a CarbonCapped event on HPA wide", func(ctx context.Context) (bool, error) {
		evs, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=wide,reason=CarbonCapped"})
		return err == nil && len(evs.Items) > 0 && strings.Contains(evs.Items[0].Message, "gCO2eq/kWh"), err
	})

	// An HPA the policy no longer selects gets its maximum back, and keeps
	// it whatever the grid does.
	framework.Eventually(t, "HPA wide capped", func(ctx context.Context) (bool, error) {
		hpa, err := hpas.Get(ctx, "wide", metav1.GetOptions{})
		return err == nil && hpa.Annotations[carbonscaler.CappedByAnnotation] == ns, err
	})
	if _, err := hpas.Patch(ctx, "wide", types.MergePatchType, []byte(`{"metadata":{"labels":{"carbon":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "HPA wide, no longer selected, given its maximum back", func(ctx context.Context) (bool, error) {
		hpa, err := hpas.Get(ctx, "wide", metav1.GetOptions{})
		return err == nil && hpa.Spec.MaxReplicas == 10 && hpa.Annotations[carbonscaler.CappedByAnnotation] == "", err
	})

	// An override lifts every cap until it ends.
	// Patches, not updates: the controller writes the status every pass, so
	// a read-modify-write of the whole object would race it.
	override := fmt.Sprintf(`{"spec":{"overrideUntil":%q}}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if _, err := policies.Patch(ctx, policy.Name, types.MergePatchType, []byte(override), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the override to lift the caps", func(ctx context.Context) (bool, error) {
		p, err := policies.Get(ctx, policy.Name, metav1.GetOptions{})
		if err != nil || p.Status.ObservedGeneration != p.Generation {
			return false, err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, carbonscaler.ConditionCapping)
		for _, name := range []string{"wide", "floor"} {
			hpa, err := hpas.Get(ctx, name, metav1.GetOptions{})
			if err != nil || hpa.Spec.MaxReplicas != 10 || hpa.Annotations[carbonscaler.CappedByAnnotation] != "" {
				return false, err
			}
		}
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "Override", nil
	})

	// A refused update names the field, and keeps the policy as it was.
	bands := fmt.Sprintf(`{"spec":{"bands":[{"aboveGramsPerKWh":%d,"maxReplicasPercent":100}]}}`, q[0])
	if _, err := policies.Patch(ctx, policy.Name, types.MergePatchType, []byte(bands), metav1.PatchOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.bands[0].maxReplicasPercent") {
		t.Errorf("a 100%% band: %v, want 422", err)
	}
}

func allSeen(seen map[string]map[int32]bool, want map[string][]int32) bool {
	for name, values := range want {
		for _, v := range values {
			if !seen[name][v] {
				return false
			}
		}
	}
	return true
}

// TestCarbonScalingPolicyAuthorRights: a policy caps only the HPAs its
// author may patch. An author who may write CarbonScalingPolicies, and edit
// one namespace, has a policy whose band is always in force: the HPA there
// is capped, the one in a namespace it may not touch keeps its maximum, and
// the policy's Ready condition names it.
func TestCarbonScalingPolicyAuthorRights(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "carbon-author")
	other := env.Namespace(t, "carbon-author-other")
	author := policyAuthor(t, ns, "carbonscalingpolicies")
	if _, err := env.Kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "author-edit"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "author", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	label := map[string]string{"carbon-author": ns}
	for _, hns := range []string{ns, other} {
		if _, err := env.Kube.AutoscalingV2().HorizontalPodAutoscalers(hns).Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: label},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "pool.kubevirt.io/v1beta1", Kind: "VirtualMachinePool", Name: "web"},
				MinReplicas:    ptr.To[int32](1), MaxReplicas: 10,
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	policy, err := author.HypersdkV1alpha1().CarbonScalingPolicies().Create(ctx, &v1alpha1.CarbonScalingPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.CarbonScalingPolicySpec{Zone: "ES", HPASelector: &metav1.LabelSelector{MatchLabels: label},
			Bands: []v1alpha1.CarbonScalingBand{{AboveGramsPerKWh: 1, MaxReplicasPercent: 50}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.HyperSDK.HypersdkV1alpha1().CarbonScalingPolicies().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	if r := policy.Spec.Requester; r == nil || r.Username != "system:serviceaccount:"+ns+":author" {
		t.Errorf("requester %+v, want the author", r)
	}
	framework.Eventually(t, "the author's HPA capped, the other refused", func(ctx context.Context) (bool, error) {
		p, err := env.HyperSDK.HypersdkV1alpha1().CarbonScalingPolicies().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, carbonscaler.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, other+"/web") || !strings.Contains(c.Message, "may not patch") ||
			strings.Contains(c.Message, ns+"/web") {
			return false, fmt.Errorf("Ready condition %+v, want it to name %s/web alone", c, other)
		}
		mine, err := env.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && mine.Spec.MaxReplicas == 5, err
	})
	theirs, err := env.Kube.AutoscalingV2().HorizontalPodAutoscalers(other).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || theirs.Spec.MaxReplicas != 10 || theirs.Annotations[carbonscaler.CappedByAnnotation] != "" {
		t.Errorf("the HPA the author may not patch: %v %+v %v, want maxReplicas 10 and no cap", err, theirs.Spec, theirs.Annotations)
	}

	// A person raising the capped maximum (kubectl edit) sets the HPA's
	// own: the cap applies to it, and it is what the HPA gets back.
	hpas := env.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns)
	if _, err := hpas.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"maxReplicas":20}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the edited maximum capped in its turn", func(ctx context.Context) (bool, error) {
		hpa, err := hpas.Get(ctx, "web", metav1.GetOptions{})
		return err == nil && hpa.Spec.MaxReplicas == 10 && hpa.Annotations[carbonscaler.OriginalMaxAnnotation] == "20", err
	})
	if _, err := hpas.Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"carbon-author":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the edited maximum given back", func(ctx context.Context) (bool, error) {
		hpa, err := hpas.Get(ctx, "web", metav1.GetOptions{})
		return err == nil && hpa.Spec.MaxReplicas == 20 && hpa.Annotations[carbonscaler.CappedByAnnotation] == "", err
	})
}
