package carbon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestNewProvider(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "ES.csv")
	if err := os.WriteFile(trace, []byte(smallCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakePassiveClock(t0)
	for _, tc := range []struct {
		spec     ProviderSpec
		wantType string // empty: an error is expected
	}{
		{ProviderSpec{Kind: KindElectricityMaps, Token: "t"}, "*carbon.ElectricityMapsProvider"},
		{ProviderSpec{Kind: KindElectricityMaps}, ""},
		{ProviderSpec{Kind: KindWattTime, Username: "u", Password: "p", Regions: map[string]string{"US-CAL-CISO": "CAISO_NORTH"}}, "*carbon.WattTimeProvider"},
		{ProviderSpec{Kind: KindWattTime, Username: "u"}, ""},
		{ProviderSpec{Kind: KindCarbonAwareSDK, BaseURL: "http://casdk.carbon.svc"}, "*carbon.CarbonAwareSDKProvider"},
		{ProviderSpec{Kind: KindCarbonAwareSDK}, ""},
		{ProviderSpec{Kind: KindTrace, TraceFiles: []string{trace}}, "*carbon.TraceProvider"},
		{ProviderSpec{Kind: KindTrace}, ""},
		{ProviderSpec{Kind: KindTrace, TraceFiles: []string{filepath.Join(t.TempDir(), "missing.csv")}}, ""},
		{ProviderSpec{Kind: KindFixed, Fixed: map[string]float64{"ES": 120}}, "*carbon.FixedProvider"},
		{ProviderSpec{Kind: KindFixed, Fixed: map[string]float64{"ES": -1}}, ""},
		{ProviderSpec{Kind: "carbonintensity.org.uk"}, ""},
	} {
		tc.spec.Clock = clk
		p, err := NewProvider(tc.spec)
		if tc.wantType == "" {
			// A nil interface, not one holding a nil pointer, so p == nil checks work.
			if err == nil || p != nil {
				t.Errorf("%+v: got %T, %v; want a nil provider and an error", tc.spec, p, err)
			}
			continue
		}
		if err != nil || fmt.Sprintf("%T", p) != tc.wantType {
			t.Errorf("%+v: got %T, %v; want %s", tc.spec, p, err, tc.wantType)
		}
	}
}
