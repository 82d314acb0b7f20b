// Package rightsizing recommends a virtual machine's vCPUs and memory from its
// usage history and decides when to apply a recommendation. It is pure logic
// with no Kubernetes client: hypersdk-controller's autoscaler feeds it samples
// from the history store and turns its decisions into Resize VMOperations, and
// hypersdk-rightsizing-eval replays real traces through the same code.
//
// Two recommenders implement Recommender: VPA, a faithful port of the
// Kubernetes Vertical Pod Autoscaler's recommender (the baseline), and VM,
// HyperSDK's own algorithm for virtual machines. Decide holds the actuation
// rules both share (update modes, bounds, change budget, cooldown, windows).
package rightsizing
