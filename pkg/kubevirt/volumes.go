package kubevirt

import kvv1 "kubevirt.io/api/core/v1"

// ClaimOf is the PersistentVolumeClaim a VM volume keeps its data on (a
// DataVolume's claim has the DataVolume's name), and whether it has one:
// container disks, cloud-init and the like do not.
func ClaimOf(v kvv1.Volume) (string, bool) {
	switch {
	case v.PersistentVolumeClaim != nil:
		return v.PersistentVolumeClaim.ClaimName, true
	case v.DataVolume != nil:
		return v.DataVolume.Name, true
	}
	return "", false
}
