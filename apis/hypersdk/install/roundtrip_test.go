package install

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"

	"github.com/hypersdk/hypersdk/apis/hypersdk/fuzzer"
)

// TestRoundTripTypes converts fuzzed objects to every version and back, in
// JSON and YAML, and expects them unchanged.
func TestRoundTripTypes(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, Install, fuzzer.Funcs)
}
