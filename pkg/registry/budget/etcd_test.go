package budget

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// TestTableShowsMoneyToTheCent: kubectl get budgets shows what was spent
// and what is projected to the cent, not in exponent form (1.235e+04) nor
// rounded to four digits (1235 for 1234.56).
func TestTableShowsMoneyToTheCent(t *testing.T) {
	b := &hypersdk.Budget{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns"},
		Spec:   hypersdk.BudgetSpec{Amount: resource.MustParse("20000")},
		Status: hypersdk.BudgetStatus{Spent: 1234.56, Percent: 6.2, Projected: 12345.678}}
	table, err := tableConvertor{}.ConvertToTable(context.Background(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	cells := table.Rows[0].Cells
	if cells[2] != "1234.56" || cells[4] != "12345.68" {
		t.Errorf("spent %v, projected %v; want 1234.56 and 12345.68", cells[2], cells[4])
	}
}
