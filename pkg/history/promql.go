package history

import (
	"fmt"
	"strconv"
	"time"
)

// selector matches one VM's series. strconv.Quote escapes as PromQL's
// double-quoted strings expect (Prometheus unquotes them with Go's rules).
func selector(namespace, name string) string {
	return fmt.Sprintf("{namespace=%s,name=%s}", strconv.Quote(namespace), strconv.Quote(name))
}

// rangeOf formats a range selector's duration in milliseconds, the
// resolution of Prometheus' timestamps, in a form every version parses.
func rangeOf(window time.Duration) string {
	return fmt.Sprintf("[%dms]", window.Milliseconds())
}

// average is the PromQL for the SQLite store's value at each evaluation
// time: the mean of every sample of metric{sel} in the window, whatever other
// labels they carry.
//
// Per VM, the exporter writes one sample per tick, but a VM that migrates or
// changes phase within a window has samples in two series (node, zone and
// phase are labels). avg_over_time per series and then avg across series
// would weigh the series equally; SQLite weighs the samples equally. Summing
// the sums and the counts across series before dividing is the latter, so
// the two stores agree up to float rounding, migrations included.
func average(metric, sel, rng string) string {
	return fmt.Sprintf("sum(sum_over_time(%[1]s%[2]s%[3]s)) / sum(count_over_time(%[1]s%[2]s%[3]s))", metric, sel, rng)
}

// kubeVirtExpr is the PromQL for a VM field from KubeVirt's own series
// (docs/observability/metrics.md in kubevirt/kubevirt), using raw metrics
// only, since recording rules such as kubevirt_vmi_memory_used_bytes or
// kubevirt_vmi_vcpu_count were renamed between releases and may not be
// installed. It is "" for fields KubeVirt has no series for.
//
// Values agree with HyperSDK's own series only roughly: KubeVirt's are
// scraped at scrape time, and CPU usage is a rate, which needs at least two
// samples per window, so steps under two scrape intervals give no points.
func kubeVirtExpr(field, sel, rng string) string {
	switch field {
	case FieldCPUUsage:
		// Sum over series: during a migration the source and target
		// launchers both count.
		return fmt.Sprintf("sum(rate(kubevirt_vmi_cpu_usage_seconds_total%s%s))", sel, rng)
	case FieldCPUAllocated:
		// One series per vCPU (id) and state; count the distinct ids seen.
		return fmt.Sprintf("count(count by (id) (count_over_time(kubevirt_vmi_vcpu_seconds_total%s%s)))", sel, rng)
	case FieldMemoryUsage:
		// What KubeVirt's used-memory rule computes: available - usable.
		return fmt.Sprintf("(%s) - (%s)",
			average("kubevirt_vmi_memory_available_bytes", sel, rng),
			average("kubevirt_vmi_memory_usable_bytes", sel, rng))
	case FieldMemoryAllocated:
		return average("kubevirt_vmi_memory_domain_bytes", sel, rng)
	}
	return ""
}
