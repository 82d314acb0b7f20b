package evaluation

import (
	"context"
	"math"
	"testing"
	"time"
)

// A clean small node and a dirty big one. "first" holds the clean node
// until 02:00, so "second", arriving at 01:00, starts on the dirty one;
// the oracle's moves take it to the clean one at 02:00 when it has long to
// run, and leave it when what is left of its life saves less than the
// move costs.
func TestOracleMovesWhenTheRestOfTheLifePays(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		life  time.Duration
		moves int
	}{
		{"long", 23 * time.Hour, 1},
		{"ending a minute after the room frees", time.Hour + time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clean, dirty := node("clean", "C", 4, 16), node("dirty", "D", 16, 64)
			sim := &Simulation{Nodes: []Node{clean, dirty},
				VMs: []VM{vm("first", 0, 2*time.Hour, 4), vm("second", time.Hour, tc.life, 4)},
				End: t0.Add(24 * time.Hour), Traces: traceMap(trace("C", t0, repeat(50, 24)...), trace("D", t0, repeat(500, 24)...))}
			plain, err := sim.Run(ctx, Strategy{Name: "oracle", Placer: NewPricedOracle(sim.Traces, sim.End, 0)})
			if err != nil {
				t.Fatal(err)
			}
			moved, err := sim.Run(ctx, Strategy{Name: "oracle+moves", Placer: NewPricedOracle(sim.Traces, sim.End, 0),
				Rebalance: &OracleMoves{}})
			if err != nil {
				t.Fatal(err)
			}
			if plain.ZoneCPUHours["D"] == 0 {
				t.Fatalf("second did not start on the dirty node: %v", plain.ZoneCPUHours)
			}
			if moved.Migrations != tc.moves {
				t.Fatalf("%d migrations, want %d", moved.Migrations, tc.moves)
			}
			if tc.moves == 0 {
				if moved.Grams != plain.Grams {
					t.Errorf("no move, yet %.3f g against %.3f g", moved.Grams, plain.Grams)
				}
				return
			}
			second := &sim.VMs[1]
			onDirty, err := AccountSpan(second, &dirty, sim.Traces, t0.Add(time.Hour), t0.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			onClean, err := AccountSpan(second, &clean, sim.Traces, t0.Add(2*time.Hour), sim.End)
			if err != nil {
				t.Fatal(err)
			}
			first, err := Account(&sim.VMs[0], &clean, sim.Traces, sim.End)
			if err != nil {
				t.Fatal(err)
			}
			want := first.Grams + onDirty.Grams + onClean.Grams + moved.MigrationGrams
			if math.Abs(moved.Grams-want) > 1e-9 || moved.MigrationGrams <= 0 || moved.Grams >= plain.Grams {
				t.Errorf("with moves %.3f g (migration %.3f g), want first's %.3f + second's %.3f on dirty and %.3f on clean + the migration, below %.3f",
					moved.Grams, moved.MigrationGrams, first.Grams, onDirty.Grams, onClean.Grams, plain.Grams)
			}
		})
	}
}

// The sums give what AccountSpan gives, on spans that start and end inside
// hours and on the trace's last instant.
func TestFutureUsageIsTheAccounting(t *testing.T) {
	values := make([]float64, 48)
	for i := range values {
		values[i] = 100 + 37*float64(i%7)
	}
	traces := traceMap(trace("A", t0, values...))
	f, err := newFuture(traces)
	if err != nil {
		t.Fatal(err)
	}
	n := node("a", "A", 16, 64)
	v := vm("v", 0, time.Hour, 2)
	for _, span := range [][2]time.Duration{{0, time.Hour}, {17 * time.Minute, 5*time.Hour + 3*time.Minute}, {30 * time.Hour, 48 * time.Hour},
		{47*time.Hour + 59*time.Minute, 48 * time.Hour}, {5 * time.Hour, 5 * time.Hour}} {
		from, to := t0.Add(span[0]), t0.Add(span[1])
		want, err := AccountSpan(&v, &n, traces, from, to)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.usage(&v, &n, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.Grams-want.Grams) > 1e-9*max(1, want.Grams) || math.Abs(got.Dollars-want.Dollars) > 1e-12 {
			t.Errorf("%v: sums give %+v, accounting %+v", span, got, want)
		}
	}
	if _, err := f.usage(&v, &n, t0.Add(47*time.Hour), t0.Add(49*time.Hour)); err == nil {
		t.Error("a span past the trace: no error")
	}
}
