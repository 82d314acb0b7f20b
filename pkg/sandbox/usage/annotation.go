package usage

// Annotation on a VM's template (and so its VMI) names the VM's load
// profile in ParseProfile's syntax; without it the simulator picks one.
const Annotation = "hypersdk.io/load-profile"
