// Package apistatus keeps Kubernetes Status errors what they are when
// context is added to them.
package apistatus

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Wrapf adds context to err. A Status error (a 404, a 429 or a 503 from
// kube-apiserver or a storage) stays one, with the context before its
// message: k8s.io/apiserver answers only an unwrapped Status as itself, and
// anything else as a 500 that clients do not retry. Other errors are
// wrapped with %w.
func Wrapf(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return fmt.Errorf("%s: %w", msg, err)
	}
	s := status.Status()
	s.Message = msg + ": " + s.Message
	return &apierrors.StatusError{ErrStatus: s}
}
