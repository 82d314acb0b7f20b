package evaluation

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotTradeOff draws, to a PNG file, the carbon/cost trade-off of the
// carbon price and cost budget sweeps: each point's mean cost and emissions against
// kube-scheduler over the windows, as a curve, with HyperSDK's other
// strategies, the oracles and the relaxation bound as labelled points.
func PlotTradeOff(path string, wins []*Window) error {
	if len(wins) == 0 {
		return fmt.Errorf("plotting the trade-off: no window")
	}
	mean := func(strategy string) (cost, co2 float64) {
		for _, w := range wins {
			for _, r := range w.Results {
				if r.Strategy == strategy {
					base := w.Baseline()
					cost += (r.Dollars/base.Dollars - 1) * 100
					co2 += (r.Grams/base.Grams - 1) * 100
				}
			}
		}
		return cost / float64(len(wins)), co2 / float64(len(wins))
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Carbon/cost trade-off, mean of %d cases", len(wins))
	p.X.Label.Text = "cost vs kube-scheduler (%)"
	p.Y.Label.Text = "CO2eq vs kube-scheduler (%)"
	p.Add(plotter.NewGrid())

	// The two sweeps a user chooses from: a carbon price, a cost budget.
	var curves []plotter.XYLabels
	for _, sweep := range []struct {
		legend string
		color  color.Color
		points []float64
		name   func(float64) string
		label  string
	}{
		{"hypersdk at a carbon price", color.RGBA{B: 200, A: 255}, CarbonPrices, PriceStrategy, "$%.0f/t"},
		{"hypersdk with a cost budget", color.RGBA{G: 150, A: 255}, CostBudgets, BudgetStrategy, "+%.0f%%"},
	} {
		curve := plotter.XYLabels{}
		for _, v := range sweep.points {
			x, y := mean(sweep.name(v))
			curve.XYs = append(curve.XYs, plotter.XY{X: x, Y: y})
			curve.Labels = append(curve.Labels, fmt.Sprintf(sweep.label, v))
		}
		line, points, err := plotter.NewLinePoints(curve.XYs)
		if err != nil {
			return fmt.Errorf("plotting the curve of %s: %w", sweep.legend, err)
		}
		line.Color, points.Color = sweep.color, sweep.color
		p.Add(line, points)
		p.Legend.Add(sweep.legend, line, points)
		curves = append(curves, curve)
	}

	others := plotter.XYLabels{}
	for _, r := range wins[0].Results[1:] {
		if strings.HasPrefix(r.Strategy, "hypersdk-$") || strings.HasPrefix(r.Strategy, "hypersdk-budget+") {
			continue
		}
		x, y := mean(r.Strategy)
		others.XYs = append(others.XYs, plotter.XY{X: x, Y: y})
		others.Labels = append(others.Labels, r.Strategy)
	}
	var bound float64
	bounded := 0
	for _, w := range wins {
		if !math.IsInf(w.BoundGrams, 1) {
			bound += (w.BoundGrams/w.Baseline().Grams - 1) * 100
			bounded++
		}
	}
	if bounded > 0 {
		others.XYs = append(others.XYs, plotter.XY{X: CostCap * 100, Y: bound / float64(bounded)})
		others.Labels = append(others.Labels, fmt.Sprintf("relaxation bound (%d cases)", bounded))
	}
	scatter, err := plotter.NewScatter(others.XYs)
	if err != nil {
		return fmt.Errorf("plotting the references: %w", err)
	}
	scatter.Shape, scatter.Color = draw.TriangleGlyph{}, color.RGBA{R: 200, A: 255}
	p.Add(scatter)
	p.Legend.Add("other strategies and references", scatter)
	for _, l := range append(curves, others) {
		labels, err := plotter.NewLabels(l)
		if err != nil {
			return fmt.Errorf("plotting labels: %w", err)
		}
		p.Add(labels)
	}
	p.Legend.Top = true
	if err := p.Save(9*vg.Inch, 6*vg.Inch, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
