package hypersdk

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CarbonScalingPolicy caps the maxReplicas of the HorizontalPodAutoscalers
// it selects while their grid zone's carbon intensity is high: the higher
// the band the intensity is in, the lower the cap; the HPAs get their own
// maximum back when the grid is clean again, never go below their
// minReplicas, and are left alone during an override window.
type CarbonScalingPolicy struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   CarbonScalingPolicySpec
	Status CarbonScalingPolicyStatus
}

// CarbonScalingPolicySpec says which HPAs, which zone and which bands.
type CarbonScalingPolicySpec struct {
	// HPASelector selects HorizontalPodAutoscalers in every namespace by
	// label. Required: a policy never caps every HPA by accident.
	HPASelector *metav1.LabelSelector
	// Zone is the grid zone (as the carbon provider names it) whose
	// intensity applies; an HPA's hypersdk.io/carbon-zone annotation
	// overrides it for that HPA.
	Zone string
	// Bands, from the lowest threshold up: at or above a band's threshold
	// an HPA's maxReplicas is capped to that share of its own maximum.
	// Thresholds rise and shares fall from one band to the next.
	Bands []CarbonScalingBand
	// OverrideUntil lifts every cap until this time (an event that must
	// scale whatever the grid), after which the bands apply again.
	OverrideUntil *metav1.Time
	// Requester is who last wrote the spec, set by the server; the
	// controller caps only HPAs the requester may patch.
	Requester *VMOperationRequester
}

// CarbonScalingBand is one step of the cap.
type CarbonScalingBand struct {
	// AboveGramsPerKWh is the intensity, in gCO2eq/kWh, from which the
	// band applies; once in force, it is lifted below 90% of it.
	AboveGramsPerKWh int32
	// MaxReplicasPercent is the cap, in percent of the HPA's own
	// maxReplicas (rounded up, and never below its minReplicas).
	MaxReplicasPercent int32
}

// CarbonScalingPolicyStatus says what the policy last did.
type CarbonScalingPolicyStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	ObservedGeneration int64
	// LastEvaluated is when the controller last read the intensity.
	LastEvaluated *metav1.Time
	// GramsPerKWh is the zone's intensity it read.
	GramsPerKWh *int32
	// ActiveBand is the index of the band in force, nil when none is.
	ActiveBand *int32
	// HPAs are the autoscalers it selects, with their caps.
	HPAs []CarbonCappedHPA
	// Conditions: Ready (the intensity could be read and the caps applied)
	// and Capping (a band is in force).
	Conditions []metav1.Condition
}

// CarbonCappedHPA is one selected HPA.
type CarbonCappedHPA struct {
	Namespace string
	Name      string
	// Zone whose intensity applies to it.
	Zone string
	// OriginalMaxReplicas is the HPA's own maximum.
	OriginalMaxReplicas int32
	// MaxReplicas is what it is now.
	MaxReplicas int32
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CarbonScalingPolicyList is a list of CarbonScalingPolicy.
type CarbonScalingPolicyList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []CarbonScalingPolicy
}
