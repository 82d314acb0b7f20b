package dashboard

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/install"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
)

// TestTemplatesAreValid: every template passes the API's validation, as
// the server would see it, so creating one never fails on its layout.
func TestTemplatesAreValid(t *testing.T) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	for _, name := range Templates {
		var vm *v1alpha1.DashboardVMReference
		if name == "vm" {
			vm = &v1alpha1.DashboardVMReference{Name: "web"}
		}
		spec, err := FromTemplate(name, vm)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		external := &v1alpha1.Dashboard{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec}
		var internal hypersdk.Dashboard
		if err := scheme.Convert(external, &internal, nil); err != nil {
			t.Fatal(err)
		}
		if errs := validation.ValidateDashboard(&internal); len(errs) > 0 {
			t.Errorf("template %s: %v", name, errs.ToAggregate())
		}
		if len(spec.Widgets) < 3 {
			t.Errorf("template %s has %d widgets", name, len(spec.Widgets))
		}
	}
}

func TestTemplateArguments(t *testing.T) {
	vm := &v1alpha1.DashboardVMReference{Name: "web"}
	for _, tc := range []struct {
		template string
		vm       *v1alpha1.DashboardVMReference
	}{{"weather", nil}, {"vm", nil}, {"overview", vm}} {
		if _, err := FromTemplate(tc.template, tc.vm); err == nil {
			t.Errorf("FromTemplate(%q, %v) accepted", tc.template, tc.vm)
		}
	}
}
