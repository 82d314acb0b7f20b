package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineHistory is the answer of virtualmachines/history: usage
// series of one VM over a window, with trends. It is computed on request from
// the history store and never stored.
type VirtualMachineHistory struct {
	metav1.TypeMeta `json:",inline"`
	// ObjectMeta names the VM.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Window is the time range and step the series were evaluated at.
	Window HistoryWindow `json:"window"`
	// Series holds one entry per requested field, in the order asked.
	// +listType=map
	// +listMapKey=field
	Series []HistorySeries `json:"series"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterHistory is the cluster-wide history: VM counts, usage totals,
// average carbon intensity and cost. The only object is named "cluster"; it
// takes the same options as virtualmachines/history.
type ClusterHistory struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Window is the time range and step the series were evaluated at.
	Window HistoryWindow `json:"window"`
	// Series holds one entry per requested field, in the order asked.
	// +listType=map
	// +listMapKey=field
	Series []HistorySeries `json:"series"`
}

// HistoryWindow is the evaluation grid of a history answer: points are at
// start, start+step, ... up to end, each the average of the samples in the
// step before it.
type HistoryWindow struct {
	Start metav1.Time     `json:"start"`
	End   metav1.Time     `json:"end"`
	Step  metav1.Duration `json:"step"`
}

// HistorySeries is one field over the window.
type HistorySeries struct {
	// Field is the series name, for example cpuUsage.
	Field string `json:"field"`
	// Unit of the values, for example cores, bytes, gCO2eq/kWh.
	Unit string `json:"unit"`
	// Points are the values, oldest first; evaluation times without samples
	// are left out.
	// +listType=atomic
	Points []HistoryPoint `json:"points"`
	// Trend summarises the points.
	Trend HistoryTrend `json:"trend"`
}

// HistoryPoint is one value at one time.
type HistoryPoint struct {
	Time  metav1.Time `json:"time"`
	Value float64     `json:"value"`
}

// HistoryTrend summarises a series. All values are zero when Count is zero.
type HistoryTrend struct {
	Avg float64 `json:"avg"`
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// P95 is the nearest-rank 95th percentile of the points.
	P95 float64 `json:"p95"`
	// Count is the number of points.
	Count int32 `json:"count"`
}
