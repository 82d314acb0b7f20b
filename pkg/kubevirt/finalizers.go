package kubevirt

import "strings"

// kubeVirtFinalizerPrefix marks the finalizers KubeVirt's controllers put
// on a VirtualMachine. The view shows them, but a write through the view
// neither removes nor adds them: a client that rebuilt the object without
// them (a PUT from a manifest) would otherwise let the VM go before
// virt-controller has cleaned up after it.
const kubeVirtFinalizerPrefix = "kubevirt.io/"

// kubeVirtFinalizers are the finalizers of fs that KubeVirt manages.
func kubeVirtFinalizers(fs []string) []string {
	var out []string
	for _, f := range fs {
		if strings.HasPrefix(f, kubeVirtFinalizerPrefix) {
			out = append(out, f)
		}
	}
	return out
}

// userFinalizers are the finalizers of fs a client of the view manages.
func userFinalizers(fs []string) []string {
	var out []string
	for _, f := range fs {
		if !strings.HasPrefix(f, kubeVirtFinalizerPrefix) {
			out = append(out, f)
		}
	}
	return out
}
