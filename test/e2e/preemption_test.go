package e2e

import "testing"

// TestVMPreemptsALowerPriorityVM: through kube-scheduler with the extender,
// a higher-priority VM preempts a lower one on the only node it may take
// (framework.CheckVMPreemption).
func TestVMPreemptsALowerPriorityVM(t *testing.T) {
	env.DumpLogsOnFailure(t)
	env.CheckVMPreemption(t, env.Namespace(t, "preempt"), "")
}
