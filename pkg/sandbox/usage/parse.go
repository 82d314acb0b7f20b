package usage

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults ParseProfile fills in when a key is omitted, so short forms like
// "diurnal:0.4" or "bursty:0.1" describe a useful load.
const (
	defaultAmplitude   = 0.3
	defaultPeakHour    = 14
	defaultBurstChance = 0.05
	defaultBurstLength = 10 * time.Minute
	defaultBurstLevel  = 0.9
)

// keysFor lists the options kind accepts after its level; "mem" applies to
// every synthetic kind. ok is false for an unknown kind.
func keysFor(kind Kind) (keys []string, ok bool) {
	switch kind {
	case Idle, Steady:
		return []string{"mem"}, true
	case Diurnal:
		return []string{"amp", "peak", "mem"}, true
	case Bursty:
		return []string{"chance", "len", "level", "mem"}, true
	case Trace:
		return nil, true
	}
	return nil, false
}

// ParseProfile parses the compact text form used by annotations and flags:
//
//	kind[:level][,key=value]...
//
// e.g. "idle", "steady:0.6", "diurnal:0.4,amp=0.3,peak=14",
// "bursty:0.1,chance=0.05,len=10m,level=0.9", "steady:0.5,mem=0.7".
// Steady, diurnal and bursty require a level; idle and trace take none.
// Keys: mem (all but trace); amp, peak (diurnal); chance, len, level
// (bursty). Omitted keys take defaults (amp=0.3, peak=14, chance=0.05,
// len=10m, level=0.9, mem=0 meaning the At default). "trace" yields a
// Profile without samples; attach them from ParseTrace.
func ParseProfile(s string) (Profile, error) {
	p, err := parseProfile(s)
	if err != nil {
		return Profile{}, fmt.Errorf("parse profile %q: %w", s, err)
	}
	return p, nil
}

func parseProfile(s string) (Profile, error) {
	parts := strings.Split(s, ",")
	head, level, hasLevel := strings.Cut(strings.TrimSpace(parts[0]), ":")
	p := Profile{Kind: Kind(strings.TrimSpace(head))}
	allowed, ok := keysFor(p.Kind)
	if !ok {
		return Profile{}, fmt.Errorf("unknown kind %q, want one of idle, steady, diurnal, bursty, trace", head)
	}

	switch p.Kind {
	case Idle, Trace:
		if hasLevel {
			return Profile{}, fmt.Errorf("%s takes no level, got %q", p.Kind, level)
		}
	default:
		if !hasLevel {
			return Profile{}, fmt.Errorf("%s requires a level, e.g. %q", p.Kind, string(p.Kind)+":0.5")
		}
		v, err := parseFraction("level", level)
		if err != nil {
			return Profile{}, err
		}
		p.Level = v
	}
	if p.Kind == Diurnal {
		p.Amplitude, p.PeakHour = defaultAmplitude, defaultPeakHour
	}
	if p.Kind == Bursty {
		p.BurstChance, p.BurstLength, p.BurstLevel = defaultBurstChance, defaultBurstLength, defaultBurstLevel
	}

	seen := map[string]bool{}
	for _, kv := range parts[1:] {
		key, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok {
			return Profile{}, fmt.Errorf("option %q is not key=value", kv)
		}
		if !slices.Contains(allowed, key) {
			return Profile{}, fmt.Errorf("unknown key %q for %s, want one of %v", key, p.Kind, allowed)
		}
		if seen[key] {
			return Profile{}, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := p.set(key, val); err != nil {
			return Profile{}, err
		}
	}
	return p, nil
}

// set assigns one validated option; key is known to be allowed for p.Kind.
func (p *Profile) set(key, val string) error {
	var err error
	switch key {
	case "mem":
		p.Memory, err = parseFraction(key, val)
	case "amp":
		p.Amplitude, err = parseFraction(key, val)
	case "chance":
		p.BurstChance, err = parseFraction(key, val)
	case "level":
		p.BurstLevel, err = parseFraction(key, val)
	case "peak":
		h, perr := strconv.Atoi(val)
		if perr != nil {
			return fmt.Errorf("peak %q: %w", val, perr)
		}
		if h < 0 || h > 23 {
			return fmt.Errorf("peak %d outside 0..23", h)
		}
		p.PeakHour = h
	case "len":
		d, perr := time.ParseDuration(val)
		if perr != nil {
			return fmt.Errorf("len %q: bad duration: %w", val, perr)
		}
		if d <= 0 {
			return fmt.Errorf("len %v must be positive", d)
		}
		p.BurstLength = d
	}
	return err
}

// parseFraction parses a number in [0, 1]; the range check also rejects NaN.
func parseFraction(name, s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", name, s, err)
	}
	if !(v >= 0 && v <= 1) {
		return 0, fmt.Errorf("%s %v outside [0, 1]", name, v)
	}
	return v, nil
}

// String formats p in the form ParseProfile reads, so that
// ParseProfile(p.String()) == p for valid non-trace profiles. Every option
// of diurnal and bursty is written out, because ParseProfile would otherwise
// replace an omitted zero with its default; mem is written when non-zero.
// A trace prints as "trace": its samples have no text form.
func (p Profile) String() string {
	var b strings.Builder
	b.WriteString(string(p.Kind))
	switch p.Kind {
	case Idle, Trace:
	default:
		b.WriteString(":" + formatFloat(p.Level))
	}
	switch p.Kind {
	case Diurnal:
		fmt.Fprintf(&b, ",amp=%s,peak=%d", formatFloat(p.Amplitude), p.PeakHour)
	case Bursty:
		fmt.Fprintf(&b, ",chance=%s,len=%s,level=%s",
			formatFloat(p.BurstChance), formatDuration(p.BurstLength), formatFloat(p.BurstLevel))
	}
	if p.Memory != 0 && p.Kind != Trace {
		b.WriteString(",mem=" + formatFloat(p.Memory))
	}
	return b.String()
}

// formatFloat is the shortest text that parses back to exactly v.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// formatDuration drops the zero tails of time.Duration.String ("10m0s" →
// "10m", "1h0m0s" → "1h") so annotations stay readable; ParseDuration reads
// both forms.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
