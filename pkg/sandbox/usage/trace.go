package usage

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"
)

// traceHeader is the required first line of a trace CSV.
const traceHeader = "offset_seconds,cpu,memory"

// traceColumns are the names of traceHeader's columns, for error messages.
func traceColumns() [3]string { return [3]string{"offset_seconds", "cpu", "memory"} }

// ParseTrace reads a CSV with header "offset_seconds,cpu,memory" for Kind
// Trace. Offsets are non-negative seconds (fractions allowed), strictly
// increasing so "the sample at an offset" is unambiguous; cpu and memory are
// fractions in [0, 1]. Lines starting with # are comments. Errors name the
// line at fault.
func ParseTrace(r io.Reader) ([]Sample, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(traceColumns())
	cr.TrimLeadingSpace = true
	cr.Comment = '#'

	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("parse trace: empty input, want header " + traceHeader)
	}
	if err != nil {
		return nil, fmt.Errorf("parse trace: header: %w", err)
	}
	for i, want := range traceColumns() {
		if strings.TrimSpace(head[i]) != want {
			return nil, fmt.Errorf("parse trace: header %q, want %q", strings.Join(head, ","), traceHeader)
		}
	}

	var samples []Sample
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse trace: %w", err)
		}
		line, _ := cr.FieldPos(0)
		s, err := parseSample(rec)
		if err != nil {
			return nil, fmt.Errorf("parse trace: line %d: %w", line, err)
		}
		if n := len(samples); n > 0 && s.Offset <= samples[n-1].Offset {
			return nil, fmt.Errorf("parse trace: line %d: offset %v not after previous %v", line, s.Offset, samples[n-1].Offset)
		}
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		return nil, errors.New("parse trace: no samples after header")
	}
	return samples, nil
}

func parseSample(rec []string) (Sample, error) {
	cols := traceColumns()
	var v [3]float64
	for i, f := range rec {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return Sample{}, fmt.Errorf("%s: %w", cols[i], err)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Sample{}, fmt.Errorf("%s: %q is not finite", cols[i], f)
		}
		v[i] = x
	}
	if v[0] < 0 || v[0] > math.MaxInt64/float64(time.Second) {
		return Sample{}, fmt.Errorf("offset_seconds %v out of range", v[0])
	}
	for i := 1; i < 3; i++ {
		if v[i] < 0 || v[i] > 1 {
			return Sample{}, fmt.Errorf("%s %v outside [0, 1]", cols[i], v[i])
		}
	}
	return Sample{
		Offset: time.Duration(math.Round(v[0] * float64(time.Second))),
		CPU:    v[1],
		Memory: v[2],
	}, nil
}

// replay returns the trace sample in effect at t. The trace is anchored at
// the Unix epoch, so every process agrees on its phase without shared state,
// and loops with period
//
//	P = last.Offset + (last.Offset − previous.Offset)
//
// i.e. one more sample interval, so the last sample is held as long as the
// others rather than skipped. The offset into the loop is (t − epoch) mod P,
// and the sample in effect is the latest one at or before it; offsets before
// the first sample still see the previous loop's last sample. Samples are
// assumed sorted by Offset, as ParseTrace returns them.
func (p Profile) replay(t time.Time) Usage {
	s := p.Samples
	if len(s) == 0 {
		return Usage{}
	}
	if len(s) == 1 {
		return Usage{CPU: clamp(s[0].CPU), Memory: clamp(s[0].Memory)}
	}
	last := s[len(s)-1].Offset
	period := last + (last - s[len(s)-2].Offset)
	if period <= 0 {
		return Usage{CPU: clamp(s[0].CPU), Memory: clamp(s[0].Memory)}
	}
	off := loopOffset(t, period)
	// Index of the first sample after off; the one before it is in effect.
	i := sort.Search(len(s), func(i int) bool { return s[i].Offset > off }) - 1
	if i < 0 {
		i = len(s) - 1
	}
	return Usage{CPU: clamp(s[i].CPU), Memory: clamp(s[i].Memory)}
}

// loopOffset is (t − Unix epoch) mod period, computed exactly for any t:
// t.UnixNano would overflow outside the years 1678..2262, so the seconds are
// reduced first and multiplied out with a 128-bit product.
func loopOffset(t time.Time, period time.Duration) time.Duration {
	p := uint64(period)
	s := uint64(floorMod(t.Unix(), int64(period)))
	hi, lo := bits.Mul64(s, uint64(time.Second))
	r := bits.Rem64(hi, lo, p) + uint64(t.Nanosecond())
	return time.Duration(r % p)
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m != 0 && (m < 0) != (b < 0) {
		m += b
	}
	return m
}
