package virtualmachine

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/apistatus"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/placementrecord"
)

// PlacementREST serves virtualmachines/placement: the decision the scheduler
// extender recorded on the VM's newest scheduled virt-launcher pod.
type PlacementREST struct {
	vms  *REST
	kube kubernetes.Interface
}

var (
	_ rest.Getter         = &PlacementREST{}
	_ rest.TableConvertor = &PlacementREST{}
)

// NewPlacementREST returns the storage of virtualmachines/placement.
func NewPlacementREST(vms *REST, kube kubernetes.Interface) *PlacementREST {
	return &PlacementREST{vms: vms, kube: kube}
}

func (r *PlacementREST) New() runtime.Object { return &hypersdk.VirtualMachinePlacement{} }
func (r *PlacementREST) Destroy()            {}

// Get finds the VM's pods (running ones and migration targets alike) and
// answers the decision of the one scheduled last. A pod bound without a
// decision was placed while the extender was unavailable: Degraded.
func (r *PlacementREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	if _, err := r.vms.Get(ctx, name, &metav1.GetOptions{}); err != nil {
		return nil, err
	}
	sel := labels.SelectorFromSet(labels.Set{kubevirt.LauncherLabel: kubevirt.LauncherLabelValue, kubevirt.VMNameLabel: name})
	pods, err := r.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, apistatus.Wrapf(err, "listing pods of VM %s/%s", namespace, name)
	}
	out := &hypersdk.VirtualMachinePlacement{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	var newest *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName == "" {
			continue
		}
		if newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) ||
			(newest.CreationTimestamp.Equal(&p.CreationTimestamp) && newest.Name < p.Name) {
			newest = p
		}
	}
	if newest == nil {
		out.Message = "the VM has no scheduled pod"
		return out, nil
	}
	d, ok, err := placementrecord.Decode(newest.Annotations)
	switch {
	case err != nil:
		// Anyone who may annotate the pod can break the record: the
		// answer says so, as for a pod placed without the extender.
		out.Degraded = true
		out.Message = fmt.Sprintf("pod %s on %s carries a placement record that cannot be read: %v", newest.Name, newest.Spec.NodeName, err)
		return out, nil
	case !ok:
		out.Degraded = true
		out.Message = fmt.Sprintf("pod %s was placed on %s without HyperSDK's scheduler extender", newest.Name, newest.Spec.NodeName)
		return out, nil
	}
	var internal hypersdk.PlacementDecision
	if err := v1alpha1.Convert_v1alpha1_PlacementDecision_To_hypersdk_PlacementDecision(d, &internal, nil); err != nil {
		return nil, err
	}
	out.Decision = &internal
	return out, nil
}

var placementColumns = []metav1.TableColumnDefinition{
	{Name: "Node", Type: "string", Description: "A candidate node; * marks the chosen one"},
	{Name: "Zone", Type: "string"},
	{Name: "Total", Type: "number", Description: "Weighted score, 0-100"},
	{Name: "Carbon", Type: "number"},
	{Name: "Cost", Type: "number"},
	{Name: "Pressure", Type: "number"},
	{Name: "GPU", Type: "number"},
	{Name: "gCO2/h", Type: "string", Description: "Estimated emissions of the VM there"},
	{Name: "$/h", Type: "string", Description: "Price of the VM there"},
	{Name: "Util%", Type: "number", Description: "Node CPU load with the VM"},
	{Name: "Intensity", Type: "string", Priority: 1, Description: "Zone carbon intensity, gCO2eq/kWh"},
	{Name: "GPUs", Type: "string", Priority: 1},
}

// known prints a figure the record may not know: <unknown> when it does
// not; prices with four decimals.
func known(v *float64, format byte) string {
	switch {
	case v == nil:
		return "<unknown>"
	case format == 'f':
		return strconv.FormatFloat(*v, 'f', 4, 64)
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

// ConvertToTable prints one row per candidate node; a missing decision is
// one row with the reason.
func (r *PlacementREST) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	p, ok := obj.(*hypersdk.VirtualMachinePlacement)
	if !ok {
		return nil, fmt.Errorf("not a VirtualMachinePlacement: %T", obj)
	}
	table := &metav1.Table{ColumnDefinitions: placementColumns}
	if p.Decision == nil {
		// No scores to show, not scores of 0: every figure is <none>, as
		// kubectl prints a value that is not there, and the reason goes
		// with the node.
		cells := make([]interface{}, len(placementColumns))
		for i := range cells {
			cells[i] = "<none>"
		}
		if p.Message != "" {
			cells[0] = "<none>: " + p.Message
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: p}})
		return table, nil
	}
	for _, c := range p.Decision.Candidates {
		node := c.Node
		if c.Node == p.Decision.Node {
			node = "*" + node
		}
		gpus := strings.Join(c.GPUDevices, ",")
		table.Rows = append(table.Rows, metav1.TableRow{Cells: []interface{}{node, c.Zone, c.Total, c.Carbon, c.Cost,
			c.Pressure, c.GPU, known(c.GramsCO2PerHour, 'g'), known(c.CostPerHour, 'f'), c.PredictedUtilization,
			known(c.CarbonIntensity, 'g'), gpus}, Object: runtime.RawExtension{Object: p}})
	}
	return table, nil
}
