package e2e

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestInvalidOperationsAreRejected: each invalid VMOperation gets 422 naming
// the field, and nothing is stored.
func TestInvalidOperationsAreRejected(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "invalid")
	ops := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns)

	for _, tc := range []struct {
		name  string
		spec  v1alpha1.VMOperationSpec
		field string
	}{
		{"bad type", v1alpha1.VMOperationSpec{VMName: "vm1", Type: "Teleport"}, "spec.type"},
		{"empty vmName", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart}, "spec.vmName"},
		{"options of another type", v1alpha1.VMOperationSpec{VMName: "vm1", Type: v1alpha1.VMOperationStop,
			Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](2)}}, "spec.resize"},
		{"missing required options", v1alpha1.VMOperationSpec{VMName: "vm1", Type: v1alpha1.VMOperationClone}, "spec.clone"},
		{"resize below one CPU", v1alpha1.VMOperationSpec{VMName: "vm1", Type: v1alpha1.VMOperationResize,
			Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](0)}}, "spec.resize.cpus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ops.Create(ctx, &v1alpha1.VMOperation{
				ObjectMeta: metav1.ObjectMeta{Name: "op"}, Spec: tc.spec,
			}, metav1.CreateOptions{})
			assertInvalid(t, err, tc.field)
		})
	}
	list, err := ops.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("%d invalid operations were stored", len(list.Items))
	}

	// Status: progress above 100 is refused and the stored status is unchanged.
	stopped := kubevirtVM("vm1", 1, "1Gi", nil)
	stopped.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, stopped)
	op, err := ops.Create(ctx, &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{Name: "valid"},
		Spec:       v1alpha1.VMOperationSpec{VMName: "vm1", Type: v1alpha1.VMOperationStart},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if op.Status.Phase != v1alpha1.VMOperationPending || op.Spec.Start == nil {
		t.Errorf("created operation phase %q start options %v, want Pending and defaulted options", op.Status.Phase, op.Spec.Start)
	}
	// hypersdk-controller works on the operation meanwhile: write on the
	// latest version, as any client would, so a 409 from that race is not
	// mistaken for the answer.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := ops.Get(ctx, "valid", metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.Status.Progress = 150
		_, err = ops.UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
	assertInvalid(t, err, "status.progress")
	stored, err := ops.Get(ctx, "valid", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status.Progress == 150 {
		t.Errorf("a rejected status update was stored")
	}

	// An invalid VM written through the view creates no KubeVirt object.
	_, err = env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Create(ctx, &v1alpha1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "tiny"},
		Spec:       v1alpha1.VirtualMachineSpec{CPUs: 0, Image: "x"},
	}, metav1.CreateOptions{})
	assertInvalid(t, err, "spec.cpus")
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "tiny", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("KubeVirt VM of an invalid view: err = %v, want not found", err)
	}
}

// assertInvalidKind: err is a 422 about kind whose causes name field or a
// field in it.
func assertInvalidKind(t *testing.T, err error, kind, field string) {
	t.Helper()
	assertInvalid(t, err, field)
	if status, ok := err.(apierrors.APIStatus); ok && status.Status().Details != nil && status.Status().Details.Kind != kind {
		t.Errorf("422 about kind %q, want %q", status.Status().Details.Kind, kind)
	}
}

func assertInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err = %v, want 422 Invalid", err)
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Details == nil {
		t.Fatalf("no Status details in %v", err)
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == field || strings.HasPrefix(c.Field, field+".") {
			return
		}
	}
	t.Errorf("422 causes %+v do not name %s", status.Status().Details.Causes, field)
}
