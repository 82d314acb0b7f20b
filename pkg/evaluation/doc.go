// Package evaluation replays a month of VM arrivals on a simulated fleet,
// offline, to compare where placement strategies put the VMs: how many grams
// of CO2eq and how many dollars the placed VMs cost, accounted with the true
// hourly carbon intensity of each node's grid zone.
//
// Every strategy sees the same arrivals and keeps its own capacity
// bookkeeping; a VM that fits nowhere is rejected, not queued. The strategies
// are an emulation of kube-scheduler's default scoring, HyperSDK's
// placement.Evaluate (the model the scheduler extender runs) fed by a trace
// replay that never reads ahead, and a greedy offline oracle that knows each
// VM's lifetime and the true future intensity.
package evaluation
