package history

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// vmLabels are the labels of every VM metric. Node, zone and phase change
// when a VM migrates or stops, which starts a new series; the reader's
// queries aggregate over them (see vmAverage).
var vmLabels = []string{"namespace", "name", "node", "zone", "phase"}

// Exporter is a prometheus.Collector that exposes the latest batch as
// gauges stamped with the batch's time, not the scrape's: Prometheus then
// stores each sample at its tick, like the SQLite store, and a tick scraped
// twice is one sample (Prometheus drops a sample repeating a series'
// timestamp). For no tick to be lost, the scrape interval must not exceed
// the recorder's interval, and the scrape config must keep
// honor_timestamps at its default, true.
type Exporter struct {
	vmDescs      []*prometheus.Desc // parallel to vmFieldTable
	clusterDescs []*prometheus.Desc // parallel to clusterFieldTable

	mu    sync.RWMutex
	batch *Batch
}

// NewExporter returns an Exporter that exposes nothing until the first Set.
func NewExporter() *Exporter {
	e := &Exporter{}
	for _, f := range vmFieldTable {
		e.vmDescs = append(e.vmDescs, prometheus.NewDesc(f.metric, f.help, vmLabels, nil))
	}
	for _, f := range clusterFieldTable {
		e.clusterDescs = append(e.clusterDescs, prometheus.NewDesc(f.metric, f.help, nil, nil))
	}
	return e
}

// Set makes b the batch the exporter exposes. It keeps a copy, so the caller
// may reuse b's slice.
func (e *Exporter) Set(b Batch) {
	b.VMs = append([]VMSample(nil), b.VMs...)
	e.mu.Lock()
	e.batch = &b
	e.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range e.vmDescs {
		ch <- d
	}
	for _, d := range e.clusterDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.RLock()
	b := e.batch
	e.mu.RUnlock()
	if b == nil {
		return
	}
	// Set replaces the pointer and never changes a batch, so b can be read
	// without the lock.
	for i, f := range vmFieldTable {
		for j := range b.VMs {
			v := &b.VMs[j]
			if !f.has(v) {
				continue // as SQLite keeps no value: a gap, not a 0
			}
			ch <- gauge(e.vmDescs[i], b, f.value(v), v.Namespace, v.Name, v.Node, v.Zone, v.Phase)
		}
	}
	for i, f := range clusterFieldTable {
		if f.has(&b.Cluster) {
			ch <- gauge(e.clusterDescs[i], b, f.value(&b.Cluster))
		}
	}
}

func gauge(d *prometheus.Desc, b *Batch, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
	if err != nil {
		// A label value that is not UTF-8; the scrape reports it.
		return prometheus.NewInvalidMetric(d, err)
	}
	return prometheus.NewMetricWithTimestamp(b.Time, m)
}
