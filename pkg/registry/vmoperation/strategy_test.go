package vmoperation

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/operations"
)

func TestRequesterIsTheAuthenticatedUser(t *testing.T) {
	s := NewStrategy(nil)
	ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{
		Name: "alice", UID: "42", Groups: []string{"dev"}, Extra: map[string][]string{"scope": {"vm"}},
	})
	op := &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "op", Namespace: "ns"}, Spec: hypersdk.VMOperationSpec{
		VMName: "vm", Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{},
		Requester: &hypersdk.VMOperationRequester{Username: "system:admin", Groups: []string{"system:masters"}},
	}}
	s.PrepareForCreate(ctx, op)
	r := op.Spec.Requester
	if r == nil || r.Username != "alice" || r.UID != "42" || len(r.Groups) != 1 || r.Groups[0] != "dev" || r.Extra["scope"][0] != "vm" {
		t.Fatalf("requester after create = %+v, want alice as authenticated", r)
	}
	if op.Labels[VMLabel] != "vm" || op.Labels[TypeLabel] != "Start" {
		t.Errorf("labels = %v, want the VM and the type", op.Labels)
	}
	if errs := s.Validate(ctx, op); len(errs) != 0 {
		t.Errorf("valid operation refused: %v", errs)
	}

	// No user: no requester, and validation refuses it.
	anon := &hypersdk.VMOperation{ObjectMeta: op.ObjectMeta, Spec: op.Spec}
	s.PrepareForCreate(context.Background(), anon)
	if anon.Spec.Requester != nil {
		t.Errorf("requester without a user = %+v, want none", anon.Spec.Requester)
	}
	if errs := s.Validate(context.Background(), anon); len(errs) != 1 || errs[0].Field != "spec.requester.username" {
		t.Errorf("validation without a requester = %v, want spec.requester.username required", errs)
	}

	// An update cannot change the requester or the labels.
	changed := op.DeepCopy()
	changed.Spec.Requester = &hypersdk.VMOperationRequester{Username: "mallory"}
	changed.Labels = map[string]string{VMLabel: "other"}
	s.PrepareForUpdate(ctx, changed, op)
	if changed.Spec.Requester.Username != "alice" || changed.Labels[VMLabel] != "vm" || changed.Labels[TypeLabel] != "Start" {
		t.Errorf("after update: requester %+v labels %v, want alice and the original labels", changed.Spec.Requester, changed.Labels)
	}
}

// TestStatusWriteKeepsTheMetadata: vmoperations/status changes the status
// only; a status write that drops the finalizer (or an owner) would let
// the operation go before its clean-up.
func TestStatusWriteKeepsTheMetadata(t *testing.T) {
	prev := &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "op", Namespace: "ns", ResourceVersion: "7",
		Finalizers: []string{"hypersdk.io/operation-cleanup"}, Labels: map[string]string{VMLabel: "vm"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "RebalancePolicy", Name: "p", UID: "u"}}},
		Spec: hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{}}}
	op := prev.DeepCopy()
	op.Finalizers, op.OwnerReferences, op.Labels = nil, nil, map[string]string{"x": "y"}
	op.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "executor", Subresource: "status"}}
	op.Spec.VMName = "other"
	op.Status.Phase = hypersdk.VMOperationRunning
	NewStatusStrategy(nil).PrepareForUpdate(context.Background(), op, prev)
	if len(op.Finalizers) != 1 || len(op.OwnerReferences) != 1 || op.Labels[VMLabel] != "vm" || op.Spec.VMName != "vm" {
		t.Errorf("after a status write: finalizers %v, owners %v, labels %v, VM %q; want all as before",
			op.Finalizers, op.OwnerReferences, op.Labels, op.Spec.VMName)
	}
	if op.Status.Phase != hypersdk.VMOperationRunning || len(op.ManagedFields) != 1 {
		t.Errorf("status %q, managed fields %v: want the status written and its manager kept", op.Status.Phase, op.ManagedFields)
	}
}

// TestCreationIsStampedToTheNanosecond: the API server stamps when it made
// an operation, whatever the client sent, and an update keeps the stamp.
func TestCreationIsStampedToTheNanosecond(t *testing.T) {
	s := NewStrategy(nil)
	op := &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "op", Namespace: "ns",
		Annotations: map[string]string{operations.CreatedAtAnnotation: "2000-01-01T00:00:00Z"}},
		Spec: hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{}}}
	s.PrepareForCreate(context.Background(), op)
	at, err := time.Parse(time.RFC3339Nano, op.Annotations[operations.CreatedAtAnnotation])
	if err != nil || time.Since(at) > time.Minute {
		t.Fatalf("stamp %q (%v), want now", op.Annotations[operations.CreatedAtAnnotation], err)
	}
	changed := op.DeepCopy()
	changed.Annotations = map[string]string{operations.CreatedAtAnnotation: "2000-01-01T00:00:00Z"}
	s.PrepareForUpdate(context.Background(), changed, op)
	if got := changed.Annotations[operations.CreatedAtAnnotation]; got != op.Annotations[operations.CreatedAtAnnotation] {
		t.Errorf("stamp after an update that changed it: %q, want %q kept", got, op.Annotations[operations.CreatedAtAnnotation])
	}
}
