package budget

import (
	"context"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apply makes the cluster-scoped object named as want exist as want:
// created when missing, updated (by merge) when it differs.
func apply[T interface{ GetName() string }](ctx context.Context, want T,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	update func(context.Context, T, metav1.UpdateOptions) (T, error),
	merge func(got, want T)) error {
	got, err := get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = create(ctx, want, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	before := reflect.ValueOf(got).Elem().Interface()
	merge(got, want)
	if reflect.DeepEqual(before, reflect.ValueOf(got).Elem().Interface()) {
		return nil
	}
	_, err = update(ctx, got, metav1.UpdateOptions{})
	return err
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
