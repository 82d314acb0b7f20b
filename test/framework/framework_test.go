package framework

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveStale: the sandbox directories runs killed before their
// clean-up left are removed; one kept on purpose, and other files, stay.
func TestRemoveStale(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	stale, kept, other := filepath.Join(tmp, "hypersdk-e2e-1"), filepath.Join(tmp, "hypersdk-e2e-2"), filepath.Join(tmp, "something-else")
	for _, dir := range []string{filepath.Join(stale, "bin"), kept, other} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(kept, keptMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	removeStale()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale directory: %v, want it removed", err)
	}
	for _, dir := range []string{kept, other} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s: %v, want it kept", dir, err)
		}
	}
}
