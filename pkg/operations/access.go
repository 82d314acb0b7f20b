package operations

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// Request is what an operation asks for, in the terms authorization needs.
type Request struct {
	// Namespace and VMName name the VM operated on.
	Namespace, VMName string
	// Type is the operation type (Clone, Migrate, ...).
	Type string
	// NewNamespace and NewName name the VM the operation makes (a clone, or
	// a restore into a new VM); NewName is empty for the others, and an
	// empty NewNamespace is Namespace.
	NewNamespace, NewName string
}

// Access is one permission a requester needs: the verb create on a
// hypersdk.io resource (and subresource) in a namespace.
type Access struct {
	Namespace, Resource, Subresource, Name string
}

func (a Access) String() string {
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	return fmt.Sprintf("create %s.%s %q in namespace %q", res, hypersdk.GroupName, a.Name, a.Namespace)
}

// RequiredAccess lists what a user must be allowed to do for an operation
// to be carried out on their behalf, whichever way it was asked for (a POST
// to the VM's subresource or a VMOperation created directly): create on the
// subresource named after the type, and for an operation that makes a new
// VM (a clone, a restore into a new VM), create on virtualmachines where
// that VM is made, in the source's namespace too: making a VM is the right
// to create one, whatever the operation that makes it.
func RequiredAccess(r Request) []Access {
	out := []Access{{Namespace: r.Namespace, Resource: "virtualmachines", Subresource: strings.ToLower(r.Type), Name: r.VMName}}
	if r.NewName != "" {
		ns := r.NewNamespace
		if ns == "" {
			ns = r.Namespace
		}
		out = append(out, Access{Namespace: ns, Resource: "virtualmachines", Name: r.NewName})
	}
	return out
}

// RequestOf describes an operation for RequiredAccess.
func RequestOf(op *hypersdk.VMOperation) Request {
	r := Request{Namespace: op.Namespace, VMName: op.Spec.VMName, Type: string(op.Spec.Type)}
	switch {
	case op.Spec.Type == hypersdk.VMOperationClone && op.Spec.Clone != nil:
		r.NewNamespace, r.NewName = op.Spec.Clone.TargetNamespace, op.Spec.Clone.TargetName
	case op.Spec.Type == hypersdk.VMOperationRestore && op.Spec.Restore != nil:
		r.NewName = op.Spec.Restore.TargetName
	}
	return r
}

// Authorize asks authz whether caller has every access, as an API server
// asks for its own requests (through SubjectAccessReviews to kube-apiserver
// for an aggregated server). No caller is refused.
func Authorize(ctx context.Context, authz authorizer.UnconditionalAuthorizer, caller user.Info, accesses []Access) error {
	if caller == nil || caller.GetName() == "" {
		return apierrors.NewForbidden(hypersdk.Resource("vmoperations"), "", fmt.Errorf("no authenticated user: an operation needs a requester"))
	}
	for _, a := range accesses {
		decision, reason, err := authz.Authorize(ctx, authorizer.AttributesRecord{
			User: caller, Verb: "create", APIGroup: hypersdk.GroupName, APIVersion: "*",
			Resource: a.Resource, Subresource: a.Subresource, Namespace: a.Namespace, Name: a.Name,
			ResourceRequest: true,
		})
		if decision == authorizer.DecisionAllow {
			continue
		}
		return forbidden(caller.GetName(), a, reason, err)
	}
	return nil
}

// Review asks kube-apiserver, with SubjectAccessReviews, whether requester
// has every access; the executor calls it before it acts on an operation.
func Review(ctx context.Context, kube kubernetes.Interface, requester *authorizationv1.SubjectAccessReviewSpec, accesses []Access) error {
	for _, a := range accesses {
		spec := *requester
		spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Namespace: a.Namespace, Verb: "create", Group: hypersdk.GroupName,
			Resource: a.Resource, Subresource: a.Subresource, Name: a.Name,
		}
		sar, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("reviewing access of %s: %w", requester.User, err)
		}
		if !sar.Status.Allowed {
			var err error
			if sar.Status.EvaluationError != "" {
				err = fmt.Errorf("%s", sar.Status.EvaluationError)
			}
			return forbidden(requester.User, a, sar.Status.Reason, err)
		}
	}
	return nil
}

func forbidden(userName string, a Access, reason string, err error) error {
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	msg := fmt.Sprintf("User %q cannot create resource %q in API group %q in the namespace %q", userName, res, hypersdk.GroupName, a.Namespace)
	if reason != "" {
		msg += ": " + reason
	}
	if err != nil {
		msg += fmt.Sprintf(" (%v)", err)
	}
	return apierrors.NewForbidden(hypersdk.Resource(res), a.Name, fmt.Errorf("%s", msg))
}

// Admission is the check every way of creating an operation passes in
// hypersdk-apiserver: the caller must be allowed each RequiredAccess (asked of
// Authorizer, which for an aggregated server sends SubjectAccessReviews to
// kube-apiserver as the caller) and the cluster must allow the operation
// (Precheck). Access comes first, so a caller learns nothing about objects
// it may not touch from the prechecks' answers.
type Admission struct {
	Authorizer authorizer.UnconditionalAuthorizer
	Precheck   *Prechecker
}

// Admit returns nil when the caller in ctx may have op carried out.
func (a *Admission) Admit(ctx context.Context, op *hypersdk.VMOperation) error {
	caller, _ := genericapirequest.UserFrom(ctx)
	if err := Authorize(ctx, a.Authorizer, caller, RequiredAccess(RequestOf(op))); err != nil {
		return err
	}
	return a.Precheck.Check(ctx, op)
}

// AdmitCancel returns nil when the caller in ctx may cancel op: it may ask
// for an operation of op's type on op's VM (create on its subresource), the
// right the cancel's undoing stands for.
func (a *Admission) AdmitCancel(ctx context.Context, op *hypersdk.VMOperation) error {
	caller, _ := genericapirequest.UserFrom(ctx)
	return Authorize(ctx, a.Authorizer, caller, RequiredAccess(RequestOf(op))[:1])
}
