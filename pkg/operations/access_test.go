package operations

import (
	"context"
	"errors"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

func TestRequiredAccess(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  Request
		want []Access
	}{
		{"migrate", Request{Namespace: "a", VMName: "vm", Type: "Migrate"},
			[]Access{{Namespace: "a", Resource: "virtualmachines", Subresource: "migrate", Name: "vm"}}},
		{"clone in place", Request{Namespace: "a", VMName: "vm", Type: "Clone", NewName: "copy"},
			[]Access{
				{Namespace: "a", Resource: "virtualmachines", Subresource: "clone", Name: "vm"},
				{Namespace: "a", Resource: "virtualmachines", Name: "copy"},
			}},
		{"clone into its own namespace, named", Request{Namespace: "a", VMName: "vm", Type: "Clone", NewNamespace: "a", NewName: "copy"},
			[]Access{
				{Namespace: "a", Resource: "virtualmachines", Subresource: "clone", Name: "vm"},
				{Namespace: "a", Resource: "virtualmachines", Name: "copy"},
			}},
		{"restore in place", Request{Namespace: "a", VMName: "vm", Type: "Restore"},
			[]Access{{Namespace: "a", Resource: "virtualmachines", Subresource: "restore", Name: "vm"}}},
		{"restore into a new VM", Request{Namespace: "a", VMName: "vm", Type: "Restore", NewName: "copy"},
			[]Access{
				{Namespace: "a", Resource: "virtualmachines", Subresource: "restore", Name: "vm"},
				{Namespace: "a", Resource: "virtualmachines", Name: "copy"},
			}},
		{"clone across", Request{Namespace: "a", VMName: "vm", Type: "Clone", NewNamespace: "b", NewName: "copy"},
			[]Access{
				{Namespace: "a", Resource: "virtualmachines", Subresource: "clone", Name: "vm"},
				{Namespace: "b", Resource: "virtualmachines", Name: "copy"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RequiredAccess(tc.req)
			if len(got) != len(tc.want) {
				t.Fatalf("RequiredAccess = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("access %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// allowOnly allows the attributes of one namespace and denies the rest.
type allowOnly struct{ namespace string }

func (a allowOnly) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if attrs.GetNamespace() == a.namespace && attrs.GetVerb() == "create" && attrs.GetAPIGroup() == "hypersdk.io" {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no rule", nil
}

func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	alice := &user.DefaultInfo{Name: "alice"}
	across := RequiredAccess(Request{Namespace: "a", VMName: "vm", Type: "Clone", NewNamespace: "b", NewName: "copy"})
	if err := Authorize(ctx, allowOnly{"a"}, alice, across[:1]); err != nil {
		t.Errorf("allowed access refused: %v", err)
	}
	err := Authorize(ctx, allowOnly{"a"}, alice, across)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("clone into a namespace without rights: %v, want 403", err)
	}
	if want := `User "alice" cannot create resource "virtualmachines" in API group "hypersdk.io" in the namespace "b"`; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err.Error(), want)
	}
	for _, caller := range []user.Info{nil, &user.DefaultInfo{}} {
		if err := Authorize(ctx, allowOnly{"a"}, caller, across[:1]); !apierrors.IsForbidden(err) {
			t.Errorf("no user (%v): %v, want 403", caller, err)
		}
	}
}

// TestAdmitCancel: cancelling an operation needs what asking for it needs,
// on its VM: create on the subresource of its type.
func TestAdmitCancel(t *testing.T) {
	clone := &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "op", Namespace: "a"},
		Spec: hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationClone,
			Clone: &hypersdk.CloneSpec{TargetNamespace: "b", TargetName: "copy"}}}
	a := &Admission{Authorizer: allowOnly{"a"}}
	alice := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "alice"})
	if err := a.AdmitCancel(alice, clone); err != nil {
		t.Errorf("cancel by a caller who may clone vm: %v", err)
	}
	elsewhere := clone.DeepCopy()
	elsewhere.Namespace = "c"
	err := a.AdmitCancel(alice, elsewhere)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `"virtualmachines/clone"`) {
		t.Errorf("cancel by a caller who may not clone vm: %v, want 403 naming virtualmachines/clone", err)
	}
}

func TestReview(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	var asked []authorizationv1.SubjectAccessReviewSpec
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		asked = append(asked, sar.Spec)
		sar.Status.Allowed = sar.Spec.ResourceAttributes.Namespace == "a"
		return true, sar, nil
	})
	requester := &authorizationv1.SubjectAccessReviewSpec{User: "alice", Groups: []string{"dev"}, UID: "1",
		Extra: map[string]authorizationv1.ExtraValue{"scope": {"x"}}}
	across := RequiredAccess(Request{Namespace: "a", VMName: "vm", Type: "Clone", NewNamespace: "b", NewName: "copy"})
	err := Review(ctx, kube, requester, across)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("Review of a clone into b: %v, want 403", err)
	}
	if len(asked) != 2 {
		t.Fatalf("asked %d reviews, want 2", len(asked))
	}
	for _, spec := range asked {
		if spec.User != "alice" || spec.UID != "1" || len(spec.Groups) != 1 || spec.Extra["scope"][0] != "x" {
			t.Errorf("review not asked as the requester: %+v", spec)
		}
	}
	if ra := asked[0].ResourceAttributes; ra.Verb != "create" || ra.Group != "hypersdk.io" || ra.Resource != "virtualmachines" ||
		ra.Subresource != "clone" || ra.Name != "vm" {
		t.Errorf("first review asks %+v, want create virtualmachines/clone vm", ra)
	}

	failing := fake.NewClientset()
	failing.PrependReactor("create", "subjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	if err := Review(ctx, failing, requester, across); err == nil || apierrors.IsForbidden(err) {
		t.Errorf("Review when kube-apiserver fails: %v, want an error that is not a refusal", err)
	}
}
