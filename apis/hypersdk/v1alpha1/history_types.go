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
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata; the name is always "cluster".
	// +optional
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
	// Start is the first evaluation time, in UTC.
	Start metav1.Time `json:"start"`
	// End is the end of the window, in UTC: the requested end (now when
	// only start is given), or for a timeRange (1h when neither is given)
	// the first step boundary at or after now.
	End metav1.Time `json:"end"`
	// Step is the time between evaluation times: the requested step, or by
	// default the window divided into 120 steps, at least 10s.
	Step metav1.Duration `json:"step"`
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
	// Time is the evaluation time, in UTC.
	Time metav1.Time `json:"time"`
	// Value is the series' value at Time, in the series' unit.
	Value float64 `json:"value"`
}

// HistoryTrend summarises a series. All values are zero when Count is zero.
type HistoryTrend struct {
	// Avg is the mean of the points.
	Avg float64 `json:"avg"`
	// Min is the smallest point.
	Min float64 `json:"min"`
	// Max is the largest point.
	Max float64 `json:"max"`
	// P95 is the nearest-rank 95th percentile of the points.
	P95 float64 `json:"p95"`
	// Count is the number of points.
	Count int32 `json:"count"`
}
