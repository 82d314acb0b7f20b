package kubevirt

// Labels KubeVirt puts on virt-launcher pods, which HyperSDK's components
// select and join on.
const (
	LauncherLabel      = "kubevirt.io"
	LauncherLabelValue = "virt-launcher"
	// LauncherSelector selects virt-launcher pods.
	LauncherSelector = LauncherLabel + "=" + LauncherLabelValue
	// CreatedByLabel holds the UID of the pod's VirtualMachineInstance.
	CreatedByLabel = "kubevirt.io/created-by"
	// VMNameLabel holds the name of the pod's VM (and VMI).
	VMNameLabel = "vm.kubevirt.io/name"
)
