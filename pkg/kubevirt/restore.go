package kubevirt

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// LastRestoreAnnotation is set by KubeVirt's restore controller on the VM a
// VirtualMachineRestore restored or made, to the restore's name and UID.
const LastRestoreAnnotation = "restore.kubevirt.io/lastRestoreUID"

// RestoreMark is the value KubeVirt gives LastRestoreAnnotation for a restore.
func RestoreMark(restoreName string, restoreUID types.UID) string {
	return restoreName + "-" + string(restoreUID)
}

// RestoredBy reports whether obj was last restored (or made) by the named
// restore; with an empty UID, by any restore of that name, as a restore a
// VirtualMachineClone made for itself is known only by its name.
func RestoredBy(obj metav1.Object, restoreName string, restoreUID types.UID) bool {
	mark, ok := obj.GetAnnotations()[LastRestoreAnnotation]
	if !ok || restoreName == "" {
		return false
	}
	if restoreUID != "" {
		return mark == RestoreMark(restoreName, restoreUID)
	}
	return strings.HasPrefix(mark, restoreName+"-")
}
