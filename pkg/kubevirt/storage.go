package kubevirt

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	snapshotclient "kubevirt.io/client-go/externalsnapshotter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// CDIClientset is the generated client of CDI (cdi.kubevirt.io): the
// DataVolumes a VM's disks are made from.
type CDIClientset = cdiclient.Interface

// VolumeSnapshotClientset is the generated client of the CSI snapshotter's
// API (snapshot.storage.k8s.io): the volume backups of a VM snapshot.
type VolumeSnapshotClientset = snapshotclient.Interface

// NewCDIClientset returns a CDI clientset for cfg.
func NewCDIClientset(cfg *rest.Config) (CDIClientset, error) {
	cs, err := cdiclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating CDI clientset: %w", err)
	}
	return cs, nil
}

// NewVolumeSnapshotClientset returns a snapshot.storage.k8s.io clientset for cfg.
func NewVolumeSnapshotClientset(cfg *rest.Config) (VolumeSnapshotClientset, error) {
	cs, err := snapshotclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating VolumeSnapshot clientset: %w", err)
	}
	return cs, nil
}

// NewDataVolumeInformer watches CDI DataVolumes.
func NewDataVolumeInformer(client CDIClientset, resync time.Duration) cache.SharedIndexInformer {
	return informerFor[*cdiv1.DataVolumeList](&cdiv1.DataVolume{}, resync,
		client.CdiV1beta1().DataVolumes(metav1.NamespaceAll))
}
