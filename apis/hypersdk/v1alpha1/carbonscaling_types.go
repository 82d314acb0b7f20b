package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CarbonScalingPolicy caps the maxReplicas of the HorizontalPodAutoscalers
// it selects while their grid zone's carbon intensity is high: the higher
// the band the intensity is in, the lower the cap; the HPAs get their own
// maximum back when the grid is clean again, never go below their
// minReplicas, and are left alone during an override window.
type CarbonScalingPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which HPAs to cap, whose grid intensity applies, and the
	// bands.
	Spec CarbonScalingPolicySpec `json:"spec"`
	// Status is the intensity last read and the caps in force, written by
	// hypersdk-controller's carbon-scaler controller.
	Status CarbonScalingPolicyStatus `json:"status,omitempty"`
}

// CarbonScalingPolicySpec says which HPAs, which zone and which bands.
type CarbonScalingPolicySpec struct {
	// HPASelector selects HorizontalPodAutoscalers in every namespace by
	// label. Required: a policy never caps every HPA by accident.
	HPASelector *metav1.LabelSelector `json:"hpaSelector"`
	// Zone is the grid zone (as the carbon provider names it) whose
	// intensity applies; an HPA's hypersdk.io/carbon-zone annotation
	// overrides it for that HPA.
	Zone string `json:"zone"`
	// Bands, from the lowest threshold up: at or above a band's threshold
	// an HPA's maxReplicas is capped to that share of its own maximum.
	// Thresholds rise and shares fall from one band to the next.
	// +listType=atomic
	Bands []CarbonScalingBand `json:"bands"`
	// OverrideUntil lifts every cap until this time (an event that must
	// scale whatever the grid), after which the bands apply again.
	OverrideUntil *metav1.Time `json:"overrideUntil,omitempty"`
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user; the controller caps only HPAs the requester may
	// patch (giving an HPA its own maximum back needs no right).
	// +optional
	Requester *VMOperationRequester `json:"requester,omitempty"`
}

// CarbonScalingBand is one step of the cap.
type CarbonScalingBand struct {
	// AboveGramsPerKWh is the intensity, in gCO2eq/kWh, from which the
	// band applies; once in force, it is lifted below 90% of it.
	AboveGramsPerKWh int32 `json:"aboveGramsPerKWh"`
	// MaxReplicasPercent is the cap, in percent of the HPA's own
	// maxReplicas (rounded up, and never below its minReplicas).
	MaxReplicasPercent int32 `json:"maxReplicasPercent"`
}

// CarbonScalingPolicyStatus says what the policy last did.
type CarbonScalingPolicyStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastEvaluated is when the controller last read the intensity.
	LastEvaluated *metav1.Time `json:"lastEvaluated,omitempty"`
	// GramsPerKWh is the zone's intensity it read.
	GramsPerKWh *int32 `json:"gramsPerKWh,omitempty"`
	// ActiveBand is the index of the band in force, nil when none is.
	ActiveBand *int32 `json:"activeBand,omitempty"`
	// HPAs are the autoscalers it selects, with their caps.
	// +listType=atomic
	HPAs []CarbonCappedHPA `json:"hpas,omitempty"`
	// Conditions: Ready (the intensity could be read and the caps applied)
	// and Capping (a band is in force).
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// CarbonCappedHPA is one selected HPA.
type CarbonCappedHPA struct {
	// Namespace of the HPA.
	Namespace string `json:"namespace"`
	// Name of the HPA.
	Name string `json:"name"`
	// Zone whose intensity applies to it.
	Zone string `json:"zone,omitempty"`
	// OriginalMaxReplicas is the HPA's own maximum.
	OriginalMaxReplicas int32 `json:"originalMaxReplicas"`
	// MaxReplicas is what it is now.
	MaxReplicas int32 `json:"maxReplicas"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CarbonScalingPolicyList is a list of CarbonScalingPolicy.
type CarbonScalingPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of CarbonScalingPolicies.
	Items []CarbonScalingPolicy `json:"items"`
}
