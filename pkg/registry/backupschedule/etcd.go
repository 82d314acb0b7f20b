// Package backupschedule stores hypersdk.io BackupSchedules in etcd: the
// spec from users, the status (runs and kept snapshots) from
// hypersdk-controller.
package backupschedule

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
	"github.com/hypersdk/hypersdk/pkg/registry/statusrest"
	"github.com/hypersdk/hypersdk/pkg/registry/tables"
	"github.com/hypersdk/hypersdk/pkg/registry/vmoperation"
)

func schedule(obj runtime.Object) *hypersdk.BackupSchedule { return obj.(*hypersdk.BackupSchedule) }

// kind: editors write the spec and become its requester; the controller
// writes the status.
var kind = statusrest.Kind{
	Namespaced:  true,
	ClearStatus: func(obj runtime.Object) { schedule(obj).Status = hypersdk.BackupScheduleStatus{} },
	Keep: func(to, from runtime.Object) {
		schedule(to).Status, schedule(to).Spec.Requester = schedule(from).Status, schedule(from).Spec.Requester
	},
	CopySpec: func(to, from runtime.Object) {
		schedule(to).Spec, schedule(to).ObjectMeta = schedule(from).Spec, schedule(from).ObjectMeta
	},
	Spec:     func(obj runtime.Object) any { return schedule(obj).Spec },
	Validate: func(obj runtime.Object) field.ErrorList { return validation.ValidateBackupSchedule(schedule(obj)) },
	SpecWritten: func(ctx context.Context, obj runtime.Object) {
		schedule(obj).Spec.Requester = vmoperation.RequesterFrom(ctx)
	},
}

// NewREST returns the storage of backupschedules (kubectl short name bs) and of
// their status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*statusrest.Resource, *statusrest.REST, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.BackupSchedule{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.BackupScheduleList{} },
		DefaultQualifiedResource:  hypersdk.Resource("backupschedules"),
		SingularQualifiedResource: hypersdk.Resource("backupschedule"),
		TableConvertor:            tableConvertor{},
	}
	return statusrest.NewResource(store, scheme, kind, optsGetter, "bs")
}

// tableConvertor prints schedules for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Schedule", Type: "string"},
	{Name: "Suspend", Type: "boolean"},
	{Name: "Snapshots", Type: "integer", Description: "Snapshots kept"},
	{Name: "Last Schedule", Type: "string"},
	{Name: "Age", Type: "string"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		b := schedule(obj)
		last := "<none>"
		if t := b.Status.LastScheduleTime; t != nil {
			last = t.UTC().Format(time.RFC3339)
		}
		return []interface{}{name, b.Spec.Schedule, b.Spec.Suspend, len(b.Status.Snapshots), last, age}, nil
	})
}
