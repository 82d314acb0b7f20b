// Package tables builds the Tables that kubectl get asks hypersdk.io for.
package tables

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metatable "k8s.io/apimachinery/pkg/api/meta/table"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Of is obj, one object or a list, as a Table of columns with a row per
// object. It carries the list's resourceVersion and continue token, which
// the apiserver does not copy from the list: without them kubectl stops
// after the first chunk (500 objects by default) and watches from nowhere.
func Of(obj runtime.Object, columns []metav1.TableColumnDefinition,
	row func(obj runtime.Object, m metav1.Object, name, age string) ([]interface{}, error)) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	var err error
	table.Rows, err = metatable.MetaToTableRow(obj, row)
	return table, err
}
