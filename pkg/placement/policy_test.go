package placement

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Policy)
		want   string // substring of the error, "" for valid
	}{
		{"default", func(*Policy) {}, ""},
		{"zero value", func(p *Policy) { *p = Policy{} }, ""},
		{"spread", func(p *Policy) { p.GPUPolicy = GPUSpread }, ""},
		{"LoadVariationRiskBalancing", func(p *Policy) { p.Pressure = LoadVariationRiskBalancing }, ""},
		{"negative weight", func(p *Policy) { p.CostWeight = -1 }, "cost weight -1"},
		{"NaN weight", func(p *Policy) { p.CarbonWeight = math.NaN() }, "carbon weight NaN"},
		{"infinite weight", func(p *Policy) { p.GPUWeight = math.Inf(1) }, "GPU weight +Inf"},
		{"GPU policy", func(p *Policy) { p.GPUPolicy = "pack" }, `GPU policy "pack"`},
		{"pressure", func(p *Policy) { p.Pressure = "LeastAllocated" }, `pressure algorithm "LeastAllocated"`},
		{"negative carbon maximum", func(p *Policy) { p.MaxCarbonIntensity = -5 }, "max carbon intensity -5"},
		{"utilisation over 100", func(p *Policy) { p.MaxNodeUtilization = 120 }, "max node utilisation 120%"},
		{"target 100", func(p *Policy) { p.TargetUtilization = 100 }, "target utilisation 100%"},
		{"negative horizon", func(p *Policy) { p.CarbonHorizon = -time.Hour }, "carbon horizon -1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			tc.modify(&p)
			err := p.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "invalid placement policy") {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPolicyValidateReportsAll(t *testing.T) {
	err := Policy{CostWeight: -1, GPUPolicy: "x"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "cost weight") || !strings.Contains(err.Error(), "GPU policy") {
		t.Fatalf("error %v, want both problems", err)
	}
}

func TestPolicyWithDefaults(t *testing.T) {
	got := Policy{CostWeight: 2}.withDefaults()
	want := Policy{CostWeight: 2, GPUPolicy: GPUBinpack, Pressure: TargetLoadPacking, TargetUtilization: DefaultTargetUtilization}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	spread := Policy{GPUPolicy: GPUSpread, Pressure: LoadVariationRiskBalancing, TargetUtilization: 40}
	if got := spread.withDefaults(); got != spread {
		t.Errorf("set fields changed: got %+v, want %+v", got, spread)
	}
}
