package usage

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseProfile(t *testing.T) {
	tests := []struct {
		in   string
		want Profile
	}{
		{"idle", Profile{Kind: Idle}},
		{"idle,mem=0.3", Profile{Kind: Idle, Memory: 0.3}},
		{"steady:0.6", Profile{Kind: Steady, Level: 0.6}},
		{"steady:0.5,mem=0.7", Profile{Kind: Steady, Level: 0.5, Memory: 0.7}},
		{" steady : 0.5 , mem = 0.7 ", Profile{Kind: Steady, Level: 0.5, Memory: 0.7}},
		{"steady:1", Profile{Kind: Steady, Level: 1}},
		{"diurnal:0.4,amp=0.3,peak=14", Profile{Kind: Diurnal, Level: 0.4, Amplitude: 0.3, PeakHour: 14}},
		{"diurnal:0.4", Profile{Kind: Diurnal, Level: 0.4, Amplitude: 0.3, PeakHour: 14}},
		{"diurnal:0.5,peak=0,amp=0", Profile{Kind: Diurnal, Level: 0.5}},
		{"bursty:0.1,chance=0.05,len=10m,level=0.9", Profile{Kind: Bursty, Level: 0.1, BurstChance: 0.05, BurstLength: 10 * time.Minute, BurstLevel: 0.9}},
		{"bursty:0.2,len=90s", Profile{Kind: Bursty, Level: 0.2, BurstChance: 0.05, BurstLength: 90 * time.Second, BurstLevel: 0.9}},
		{"trace", Profile{Kind: Trace}},
	}
	for _, tc := range tests {
		got, err := ParseProfile(tc.in)
		if err != nil {
			t.Errorf("ParseProfile(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseProfile(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestProfileStringRoundTrip(t *testing.T) {
	tests := []struct {
		p    Profile
		want string
	}{
		{Profile{Kind: Idle}, "idle"},
		{Profile{Kind: Idle, Memory: 0.25}, "idle,mem=0.25"},
		{Profile{Kind: Steady, Level: 0.6}, "steady:0.6"},
		{Profile{Kind: Steady, Level: 0.5, Memory: 0.7}, "steady:0.5,mem=0.7"},
		{Profile{Kind: Steady, Level: 0.30000000000000004}, "steady:0.30000000000000004"}, // exact, not rounded
		{Profile{Kind: Diurnal, Level: 0.4, Amplitude: 0.3, PeakHour: 14}, "diurnal:0.4,amp=0.3,peak=14"},
		// Zeros must survive, not turn into ParseProfile's defaults.
		{Profile{Kind: Diurnal, Level: 0.4}, "diurnal:0.4,amp=0,peak=0"},
		{Profile{Kind: Bursty, Level: 0.1, BurstChance: 0.05, BurstLength: 10 * time.Minute, BurstLevel: 0.9}, "bursty:0.1,chance=0.05,len=10m,level=0.9"},
		{Profile{Kind: Bursty, Level: 0.1, BurstChance: 0.05, BurstLength: 90 * time.Second, BurstLevel: 0.9, Memory: 0.4}, "bursty:0.1,chance=0.05,len=1m30s,level=0.9,mem=0.4"},
		{Profile{Kind: Bursty, Level: 0.1, BurstChance: 0.05, BurstLength: 2 * time.Hour, BurstLevel: 1}, "bursty:0.1,chance=0.05,len=2h,level=1"},
	}
	for _, tc := range tests {
		s := tc.p.String()
		if s != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.p, s, tc.want)
		}
		back, err := ParseProfile(s)
		if err != nil {
			t.Errorf("ParseProfile(%q): %v", s, err)
			continue
		}
		if !reflect.DeepEqual(back, tc.p) {
			t.Errorf("ParseProfile(%q) = %+v, want %+v", s, back, tc.p)
		}
	}
	// And in the other direction for canonical text.
	for _, tc := range tests {
		p, err := ParseProfile(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		if s := p.String(); s != tc.want {
			t.Errorf("ParseProfile(%q).String() = %q", tc.want, s)
		}
	}
}

func TestParseProfileErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // a substring naming the bad part
	}{
		{"", `unknown kind ""`},
		{"busy:0.5", `unknown kind "busy"`},
		{"Steady:0.5", `unknown kind "Steady"`},
		{"steady", "steady requires a level"},
		{"diurnal,amp=0.2", "diurnal requires a level"},
		{"idle:0.5", "idle takes no level"},
		{"trace:0.5", "trace takes no level"},
		{"steady:1.5", "level 1.5 outside [0, 1]"},
		{"steady:-0.1", "level -0.1 outside [0, 1]"},
		{"steady:NaN", "level NaN outside [0, 1]"},
		{"steady:abc", `level "abc"`},
		{"steady:", `level ""`},
		{"steady:0.5,mem=2", "mem 2 outside [0, 1]"},
		{"steady:0.5,amp=0.2", `unknown key "amp" for steady`},
		{"idle,peak=3", `unknown key "peak" for idle`},
		{"diurnal:0.4,len=5m", `unknown key "len" for diurnal`},
		{"bursty:0.1,colour=red", `unknown key "colour"`},
		{"trace,mem=0.5", `unknown key "mem" for trace`},
		{"steady:0.5,mem", `option "mem" is not key=value`},
		{"steady:0.5,,mem=0.2", `option "" is not key=value`},
		{"steady:0.5,mem=0.2,mem=0.3", `duplicate key "mem"`},
		{"diurnal:0.4,amp=1.2", "amp 1.2 outside [0, 1]"},
		{"diurnal:0.4,peak=24", "peak 24 outside 0..23"},
		{"diurnal:0.4,peak=-1", "peak -1 outside 0..23"},
		{"diurnal:0.4,peak=2pm", `peak "2pm"`},
		{"bursty:0.1,len=ten", `len "ten": bad duration`},
		{"bursty:0.1,len=10", `len "10": bad duration`},
		{"bursty:0.1,len=0s", "len 0s must be positive"},
		{"bursty:0.1,len=-5m", "len -5m0s must be positive"},
		{"bursty:0.1,chance=1.1", "chance 1.1 outside [0, 1]"},
		{"bursty:0.1,level=x", `level "x"`},
	}
	for _, tc := range tests {
		p, err := ParseProfile(tc.in)
		if err == nil {
			t.Errorf("ParseProfile(%q) = %+v, want error", tc.in, p)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("ParseProfile(%q) error %q, want it to mention %q", tc.in, msg, tc.want)
		}
		if !strings.HasPrefix(msg, fmt.Sprintf("parse profile %q: ", tc.in)) {
			t.Errorf("ParseProfile(%q) error %q does not name the input", tc.in, msg)
		}
		if !reflect.DeepEqual(p, Profile{}) {
			t.Errorf("ParseProfile(%q) returned %+v with its error, want zero Profile", tc.in, p)
		}
	}
}
