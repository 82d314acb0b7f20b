package kubevirt

import (
	"path"
	"strings"
)

// FilterKeys applies KubeVirt's clone label and annotation filters to m:
// glob patterns, "!" negates, the last matching pattern decides; no filters
// keep everything.
func FilterKeys(m map[string]string, filters []string) map[string]string {
	if len(filters) == 0 || m == nil {
		return m
	}
	out := map[string]string{}
	for k, v := range m {
		keep := false
		for _, f := range filters {
			neg := strings.HasPrefix(f, "!")
			if ok, _ := path.Match(strings.TrimPrefix(f, "!"), k); ok {
				keep = !neg
			}
		}
		if keep {
			out[k] = v
		}
	}
	return out
}
