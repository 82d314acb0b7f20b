package budget

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// metrics are the budgets' figures for Prometheus, so Alertmanager can
// alert on them: one series per budget (namespace, budget labels).
type metrics struct {
	amount, spent, projected *prometheus.GaugeVec
	crossed                  *prometheus.GaugeVec
	// known are the (namespace, budget) pairs with series.
	known map[[2]string]bool
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	budget := []string{"namespace", "budget"}
	m := &metrics{
		amount: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hypersdk_budget_amount",
			Help: "Monthly amount of a Budget, in the price model's currency."}, budget),
		spent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hypersdk_budget_spent",
			Help: "Month to date of the VMs in a Budget's scope."}, budget),
		projected: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hypersdk_budget_projected",
			Help: "A Budget's spend at the month's end if its VMs keep costing what they cost now."}, budget),
		crossed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hypersdk_budget_threshold_crossed",
			Help: "1 when a Budget's month to date has reached the threshold (percent of the amount), else 0."},
			append(budget, "threshold")),
		known: map[[2]string]bool{},
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.amount, m.spent, m.projected, m.crossed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) set(b *v1alpha1.Budget, st *v1alpha1.BudgetStatus) {
	m.known[[2]string{b.Namespace, b.Name}] = true
	m.amount.WithLabelValues(b.Namespace, b.Name).Set(b.Spec.Amount.AsApproximateFloat64())
	m.spent.WithLabelValues(b.Namespace, b.Name).Set(st.Spent)
	m.projected.WithLabelValues(b.Namespace, b.Name).Set(st.Projected)
	m.crossed.DeletePartialMatch(prometheus.Labels{"namespace": b.Namespace, "budget": b.Name})
	for _, t := range b.Spec.Thresholds {
		v := 0.0
		if st.Percent >= float64(t) {
			v = 1
		}
		m.crossed.WithLabelValues(b.Namespace, b.Name, strconv.Itoa(int(t))).Set(v)
	}
}

// forget drops the series of budgets no longer in the list.
func (m *metrics) forget(live []v1alpha1.Budget) {
	keep := map[[2]string]bool{}
	for _, b := range live {
		keep[[2]string{b.Namespace, b.Name}] = true
	}
	for key := range m.known {
		if keep[key] {
			continue
		}
		for _, g := range []*prometheus.GaugeVec{m.amount, m.spent, m.projected, m.crossed} {
			g.DeletePartialMatch(prometheus.Labels{"namespace": key[0], "budget": key[1]})
		}
		delete(m.known, key)
	}
}
