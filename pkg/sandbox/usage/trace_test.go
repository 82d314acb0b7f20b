package usage

import (
	"strings"
	"testing"
	"time"
)

func TestParseTrace(t *testing.T) {
	in := `offset_seconds,cpu,memory
0,0.10,0.50
# a comment
60, 0.80, 0.55
120.5,1,0.6
`
	got, err := ParseTrace(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{
		{0, 0.10, 0.50},
		{time.Minute, 0.80, 0.55},
		{120*time.Second + 500*time.Millisecond, 1, 0.6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d samples %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseTraceErrors(t *testing.T) {
	const h = "offset_seconds,cpu,memory\n"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty input"},
		{"header only", h, "no samples"},
		{"wrong header", "offset,cpu,memory\n0,0,0\n", `header "offset,cpu,memory"`},
		{"header columns", "offset_seconds,cpu\n0,0\n", "header"},
		{"bad number", h + "0,0.1,0.2\n60,high,0.2\n", `line 3: cpu: strconv.ParseFloat: parsing "high"`},
		{"field count", h + "0,0.1\n", "wrong number of fields"},
		{"cpu range", h + "0,1.2,0.2\n", "line 2: cpu 1.2 outside [0, 1]"},
		{"memory range", h + "0,0.2,-0.1\n", "line 2: memory -0.1 outside [0, 1]"},
		{"negative offset", h + "-5,0.2,0.1\n", "line 2: offset_seconds -5 out of range"},
		{"not finite", h + "0,NaN,0.1\n", `line 2: cpu: "NaN" is not finite`},
		{"unsorted", h + "0,0.1,0.1\n120,0.1,0.1\n60,0.1,0.1\n", "line 4: offset 1m0s not after previous 2m0s"},
		{"duplicate offset", h + "0,0.1,0.1\n0,0.2,0.1\n", "line 3: offset 0s not after previous 0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseTrace(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("got %+v, want error", s)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "parse trace: ") {
				t.Errorf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestTraceReplay(t *testing.T) {
	samples, err := ParseTrace(strings.NewReader("offset_seconds,cpu,memory\n0,0.1,0.5\n60,0.8,0.6\n120,0.3,0.7\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := Profile{Kind: Trace, Samples: samples}
	// The loop lasts 180s: the last sample holds for one interval too.
	epoch := time.Unix(0, 0).UTC()
	s0, s1, s2 := Usage{0.1, 0.5}, Usage{0.8, 0.6}, Usage{0.3, 0.7}
	tests := []struct {
		at   time.Duration // since the epoch
		want Usage
	}{
		{0, s0},
		{59*time.Second + 999*time.Millisecond, s0},
		{60 * time.Second, s1},
		{119 * time.Second, s1},
		{120 * time.Second, s2},
		{179 * time.Second, s2},
		{180 * time.Second, s0}, // wraps
		{250 * time.Second, s1},
		{1000*180*time.Second + 130*time.Second, s2},
		{-1 * time.Second, s2}, // before the epoch, the previous loop's end
		{-170 * time.Second, s0},
	}
	for _, tc := range tests {
		for _, seed := range []int64{0, 1, 99} { // traces replay verbatim for every seed
			if got := p.At(seed, epoch.Add(tc.at)); got != tc.want {
				t.Errorf("seed %d at epoch+%v: %+v, want %+v", seed, tc.at, got, tc.want)
			}
		}
	}

	// Far from the epoch, where UnixNano would overflow, replay still lines up.
	far := time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC)
	secs := far.Unix()
	aligned := time.Unix(secs-secs%180, 0) // a loop start
	for _, tc := range []struct {
		after time.Duration
		want  Usage
	}{{0, s0}, {61 * time.Second, s1}, {150 * time.Second, s2}, {180 * time.Second, s0}} {
		if got := p.At(0, aligned.Add(tc.after)); got != tc.want {
			t.Errorf("at %v: %+v, want %+v", aligned.Add(tc.after), got, tc.want)
		}
	}
}

func TestTraceReplayEdges(t *testing.T) {
	epoch := time.Unix(0, 0)
	tests := []struct {
		name    string
		samples []Sample
		at      time.Duration
		want    Usage
	}{
		{"no samples", nil, time.Hour, Usage{}},
		{"one sample", []Sample{{30 * time.Second, 0.4, 0.3}}, 5 * time.Hour, Usage{0.4, 0.3}},
		// First sample late: period 30+60+... = 150s; before 30s the last
		// sample of the previous loop is in effect.
		{"late first, before it", []Sample{{30 * time.Second, 0.2, 0.2}, {90 * time.Second, 0.6, 0.6}}, 10 * time.Second, Usage{0.6, 0.6}},
		{"late first, at it", []Sample{{30 * time.Second, 0.2, 0.2}, {90 * time.Second, 0.6, 0.6}}, 150*time.Second + 30*time.Second, Usage{0.2, 0.2}},
		{"late first, wrapped", []Sample{{30 * time.Second, 0.2, 0.2}, {90 * time.Second, 0.6, 0.6}}, 150*time.Second + 10*time.Second, Usage{0.6, 0.6}},
		{"sub-second", []Sample{{0, 0.1, 0.1}, {500 * time.Millisecond, 0.9, 0.9}}, 700 * time.Millisecond, Usage{0.9, 0.9}},
		{"sub-second wrapped", []Sample{{0, 0.1, 0.1}, {500 * time.Millisecond, 0.9, 0.9}}, 3*time.Second + 200*time.Millisecond, Usage{0.1, 0.1}},
		{"clamped", []Sample{{0, 1.5, -0.2}, {time.Second, 0.5, 0.5}}, 0, Usage{1, 0}},
	}
	for _, tc := range tests {
		p := Profile{Kind: Trace, Samples: tc.samples}
		if got := p.At(1, epoch.Add(tc.at)); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
