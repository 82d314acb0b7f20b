// Package placement is the one scoring model behind the scheduler extender,
// the rebalancer and the placement API: given a VM and snapshots of the
// candidate nodes, Evaluate filters out the nodes the VM cannot or may not
// run on, with a human-readable reason each, and ranks the rest.
//
// Every criterion is a pure function scoring 0..100, 100 best, like the
// scheduler's MaxNodeScore:
//
//   - carbon: grams CO2eq per hour the VM would cause on the node
//     (GramsCO2PerHour), min-max normalised across the candidates;
//   - cost: the VM's hourly price on the node (pkg/cost), min-max normalised;
//   - pressure: Trimaran's TargetLoadPacking on measured CPU usage by
//     default (on a node without measured usage, FitScore: kube-scheduler's
//     MostAllocated and BalancedAllocation on requests), or Trimaran's
//     LoadVariationRiskBalancing;
//   - GPU fit: locality of the chosen devices (NVLink, NUMA) and the bin-pack
//     or spread policy, for VMs that ask for GPUs.
//
// The total is the weighted average of the criteria with a positive weight.
// Inputs are plain snapshots and Evaluate does no I/O, so the same call
// explains a decision in the API that the extender made.
package placement
