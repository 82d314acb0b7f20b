package main

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

// sampleInterval is the traces' sampling period. Every kept row stands for
// one interval of the VM's life; a missing interval stands for nothing.
const sampleInterval = 300 * time.Second

// point is one cleaned trace row.
type point struct {
	t time.Time
	// cpu is the vCPUs in use, in [0, provisioned vCPUs].
	cpu float64
	// mem is the memory in use in bytes; 0 when the row did not measure it.
	mem float64
}

// vmTrace is one VM's cleaned month.
type vmTrace struct {
	id string
	// provisioned is the VM's size: its vCPUs (constant in these traces)
	// and the largest memory_provisioned_kb of its valid rows (a few traces
	// change it within the month), rounded up to rightsizing.MemoryStep.
	provisioned rightsizing.Resources
	points      []point
	defects     defects
}

// defects counts what cleaning did to a trace's rows.
type defects struct {
	rows int
	// repeated: rows whose timestamp is not after the last kept row's
	// (repeated or out of order), dropped: the first valid row of a
	// timestamp is kept.
	repeated int
	// noCores: other rows with cpu_cores 0. In these traces every field of
	// such a row is 0: the VM was not reporting (off, or a monitoring gap),
	// so the row is dropped, like a missing interval.
	noCores int
	// memUnmeasured: kept rows with memory usage 0 (a running guest always
	// uses some memory) or above the memory provisioned (impossible). Their
	// CPU counts; their memory is unknown: not fed to the recommenders and
	// not scored.
	memUnmeasured int
	// cpuAboveCapacity: kept rows using more MHz than provisioned (clock
	// boost), clamped to the provisioned vCPUs, the most a guest can use.
	cpuAboveCapacity int
	// gaps: intervals longer than 1.5 sample intervals between kept rows.
	gaps int
}

func (d *defects) add(o defects) {
	d.rows += o.rows
	d.noCores += o.noCores
	d.repeated += o.repeated
	d.memUnmeasured += o.memUnmeasured
	d.cpuAboveCapacity += o.cpuAboveCapacity
	d.gaps += o.gaps
}

// traceColumns are the columns read, by header name.
var traceColumns = []string{"timestamp_s", "cpu_cores", "cpu_capacity_mhz", "cpu_usage_mhz", "memory_provisioned_kb", "memory_usage_kb"}

// monthFiles lists dir/<month>/<vm>.csv.gz in numeric order of the VM id
// (non-numeric ids after, by name).
func monthFiles(dir, month string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, month, "*.csv.gz"))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", filepath.Join(dir, month), err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no <vm>.csv.gz traces in %s", filepath.Join(dir, month))
	}
	sort.Slice(files, func(i, j int) bool {
		a, b := vmID(files[i]), vmID(files[j])
		na, errA := strconv.Atoi(a)
		nb, errB := strconv.Atoi(b)
		switch {
		case errA == nil && errB == nil:
			return na < nb
		case (errA == nil) != (errB == nil):
			return errA == nil
		}
		return a < b
	})
	return files, nil
}

func vmID(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".csv.gz")
}

// readTrace reads and cleans one VM's trace.
func readTrace(path string) (vmTrace, error) {
	f, err := os.Open(path)
	if err != nil {
		return vmTrace{}, fmt.Errorf("opening trace: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return vmTrace{}, fmt.Errorf("trace %s: %w", path, err)
	}
	defer gz.Close()
	tr, err := parseTrace(gz)
	if err != nil {
		return vmTrace{}, fmt.Errorf("trace %s: %w", path, err)
	}
	tr.id = vmID(path)
	return tr, nil
}

// parseTrace cleans the rows of one trace; see defects for each rule.
func parseTrace(r io.Reader) (vmTrace, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return vmTrace{}, fmt.Errorf("reading header: %w", err)
	}
	col, err := columnIndex(header)
	if err != nil {
		return vmTrace{}, err
	}
	var tr vmTrace
	var last time.Time
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return vmTrace{}, fmt.Errorf("line %d: %w", line, err)
		}
		var v [6]float64
		for i, name := range traceColumns {
			if v[i], err = strconv.ParseFloat(rec[col[name]], 64); err != nil {
				return vmTrace{}, fmt.Errorf("line %d, %s: %w", line, name, err)
			}
		}
		ts, cores, capMHz, usedMHz, memKB, memUsedKB := v[0], v[1], v[2], v[3], v[4], v[5]
		tr.defects.rows++
		t := time.Unix(int64(ts), 0).UTC()
		if !last.IsZero() && !t.After(last) {
			tr.defects.repeated++
			continue
		}
		if cores <= 0 || capMHz <= 0 {
			tr.defects.noCores++
			continue
		}
		if !last.IsZero() && t.Sub(last) > sampleInterval*3/2 {
			tr.defects.gaps++
		}
		last = t
		tr.provisioned.CPUs = max(tr.provisioned.CPUs, int32(cores))
		tr.provisioned.MemoryBytes = max(tr.provisioned.MemoryBytes, roundUpStep(memKB*1024))
		p := point{t: t, cpu: usedMHz / capMHz * cores, mem: memUsedKB * 1024}
		if usedMHz > capMHz {
			tr.defects.cpuAboveCapacity++
			p.cpu = cores
		}
		p.cpu = max(p.cpu, 0)
		if memUsedKB <= 0 || memUsedKB > memKB {
			tr.defects.memUnmeasured++
			p.mem = 0
		}
		tr.points = append(tr.points, p)
	}
	return tr, nil
}

func columnIndex(header []string) (map[string]int, error) {
	col := make(map[string]int, len(header))
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, name := range traceColumns {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("header lacks column %q", name)
		}
	}
	return col, nil
}

// roundUpStep rounds bytes up to a whole rightsizing.MemoryStep.
func roundUpStep(bytes float64) int64 {
	step := rightsizing.MemoryStep
	n := (int64(bytes) + step - 1) / step
	return max(n, 1) * step
}
