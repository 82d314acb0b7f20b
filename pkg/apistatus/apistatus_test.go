package apistatus

import (
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestWrapfKeepsTheStatus(t *testing.T) {
	err := Wrapf(apierrors.NewTooManyRequests("storage is (re)initializing", 1), "listing %s", "autoscalers")
	if _, bare := err.(*apierrors.StatusError); !bare || !apierrors.IsTooManyRequests(err) || err.Error() != "listing autoscalers: storage is (re)initializing" {
		t.Errorf("a 429 wrapped: %#v, want a bare 429 with the context", err)
	}
	nf := apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, "n1")
	if err := Wrapf(nf, "reading node"); !apierrors.IsNotFound(err) || apierrors.ReasonForError(err) != nf.Status().Reason {
		t.Errorf("a 404 wrapped: %v", err)
	}
	plain := errors.New("boom")
	if err := Wrapf(plain, "x %d", 1); !errors.Is(err, plain) || err.Error() != "x 1: boom" {
		t.Errorf("a plain error wrapped: %v", err)
	}
}
