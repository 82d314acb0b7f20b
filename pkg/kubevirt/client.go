package kubevirt

import (
	"fmt"

	"k8s.io/client-go/rest"
	kubevirtclient "kubevirt.io/client-go/kubevirt"
)

// Clientset is the KubeVirt generated clientset (kubevirt.io/client-go/kubevirt).
// kubecli is not used: it does not build against client-go 0.37.
type Clientset = kubevirtclient.Interface

// NewClientset returns a KubeVirt clientset for cfg.
func NewClientset(cfg *rest.Config) (Clientset, error) {
	cs, err := kubevirtclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating KubeVirt clientset: %w", err)
	}
	return cs, nil
}
