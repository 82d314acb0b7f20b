package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/test/framework"
)

const (
	day = 24 * time.Hour
	// A month of one-minute ticks for a few VMs: what one VM's 30-day query
	// reads does not depend on how many other VMs there are.
	monthSpan = 30 * day
	monthTick = time.Minute
	monthVMs  = 5
	// Ingest: a large cluster's tick.
	ingestVMs         = 10000
	sqliteIngestTicks = 60
	promIngestTicks   = 8
	// The API's typical long query.
	queryStep = 5 * time.Minute
	queries   = 50
)

// BenchmarkHistory measures the SQLite and Prometheus history stores side
// by side: (a) ingesting a tick of 10,000 VMs, (b) a 30-day query of one VM
// at a 5-minute step, (c) bytes on disk per sample. The Prometheus figures
// come from a real Prometheus scraping the store's Exporter over HTTP (1 s
// scrape interval), with the month backfilled by promtool. It also checks
// that both stores answer the month query with the same numbers.
func BenchmarkHistory(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	var report strings.Builder
	fmt.Fprintf(&report, "# History benchmark (%s)\n", time.Now().UTC().Format(time.RFC3339))

	// The month ends two hours ago, so its blocks do not overlap
	// Prometheus' head, which holds what is scraped now.
	end := time.Now().Truncate(time.Hour).Add(-2 * time.Hour)
	start := end.Add(-monthSpan)
	month := monthOfTicks(start, int(monthSpan/monthTick))
	monthQuery := history.Query{Namespace: "month", Name: "vm-0", Start: start, End: end, Step: queryStep}

	raw, rawLoad := loadSQLite(b, filepath.Join(dir, "raw.db"), history.SQLiteOptions{Retention: 31 * day, RawRetention: 31 * day}, month)
	down, downLoad := loadSQLite(b, filepath.Join(dir, "default.db"), history.SQLiteOptions{}, month)
	fmt.Fprintf(&report, "Month data: %d VMs + cluster, one tick a minute for 30 days (%d ticks); loaded into SQLite tick by tick in %.1f s (raw) and %.1f s (default options, compacting hourly as the clock follows the ticks)\n",
		monthVMs, len(month), rawLoad.Seconds(), downLoad.Seconds())

	// SQLite runs first, with no Prometheus sharing the CPUs.
	ingest := sqliteIngest(b, filepath.Join(dir, "ingest.db"))
	rawP50, rawP99, rawAnswer := timeQueries(b, raw, monthQuery)
	downP50, downP99, downAnswer := timeQueries(b, down, monthQuery)

	promDir := filepath.Join(dir, "prometheus")
	blocksBytes, blocksSamples, backfillTime := backfill(b, month, promDir)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	prom, err := framework.StartPrometheus(ctx, b, promDir, []string{listener.Addr().String()}, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	store, err := history.NewPrometheusStore(history.PrometheusOptions{URL: prom.URL(), Retention: 40 * day})
	if err != nil {
		b.Fatal(err)
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(store.Exporter())
	srv := &http.Server{Handler: promhttp.HandlerFor(registry, promhttp.HandlerOpts{})}
	go srv.Serve(listener)
	defer srv.Close()
	client, err := api.NewClient(api.Config{Address: prom.URL()})
	if err != nil {
		b.Fatal(err)
	}
	promAPI := promv1.NewAPI(client)
	info, err := promAPI.Buildinfo(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// promtool writes 2-hour blocks; Prometheus merges them a minute after
	// it starts. Measure once that is over, as a long-running server would be.
	blocksBefore, blocksAfter := waitCompacted(b, prom.URL())
	compactedBytes, compactedSamples := blockSizes(b, filepath.Join(promDir, "data"))

	promLatencies, scrape := promIngest(b, store, promAPI)
	promP50, promP99, promAnswer := timeQueries(b, store, monthQuery)

	fmt.Fprintf(&report, "Prometheus %s, scrape interval 1 s; month backfilled with promtool in %.1f s (%d blocks, compacted by Prometheus to %d)\n\n",
		info.Version, backfillTime.Seconds(), blocksBefore, blocksAfter)

	fmt.Fprintf(&report, "(a) Ingest of one tick of %d VMs\n", ingestVMs)
	fmt.Fprintf(&report, "  SQLite Append (one transaction, synchronous=FULL): first tick %.0f ms (registers the VMs); next %d ticks p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		ms(ingest.first), len(ingest.steady), ms(percentile(ingest.steady, 0.5)), ms(percentile(ingest.steady, 0.99)), ms(slices.Max(ingest.steady)))
	fmt.Fprintf(&report, "  SQLite compaction of those %d ticks into hourly rows (Append runs one at most hourly): %.0f ms\n",
		sqliteIngestTicks+1, ms(ingest.compact))
	fmt.Fprintf(&report, "  Prometheus, Exporter.Set until the tick is queryable: p50 %.0f ms, max %.0f ms over %d ticks (includes waiting up to 1 s for the next scrape; last scrape took %s for %s samples)\n\n",
		ms(percentile(promLatencies, 0.5)), ms(slices.Max(promLatencies)), len(promLatencies), scrape.duration, scrape.samples)

	fmt.Fprintf(&report, "(b) 30-day query of one VM, all %d fields, step %s, %d queries\n", len(history.VMFields), queryStep, queries)
	fmt.Fprintf(&report, "  SQLite, raw samples kept 30 days:           p50 %6.1f ms, p99 %6.1f ms (%d points per field)\n", ms(rawP50), ms(rawP99), len(rawAnswer[0].Points))
	fmt.Fprintf(&report, "  SQLite, defaults (48 h raw, then hourly):   p50 %6.1f ms, p99 %6.1f ms (%d points per field: hourly beyond 48 h)\n", ms(downP50), ms(downP99), len(downAnswer[0].Points))
	fmt.Fprintf(&report, "  Prometheus (one range query per field, run concurrently): p50 %6.1f ms, p99 %6.1f ms (%d points per field)\n\n", ms(promP50), ms(promP99), len(promAnswer[0].Points))

	rawBytes, rawRows := sqliteSize(b, raw)
	downBytes, downRows := sqliteSize(b, down)
	// A row holds all fields: 6 for a VM, 10 for the cluster.
	rawValues := int64(len(month)) * (monthVMs*int64(len(history.VMFields)) + int64(len(history.ClusterFields)))
	fmt.Fprintf(&report, "(c) Bytes on disk\n")
	fmt.Fprintf(&report, "  SQLite, raw month: %.1f MiB for %d rows = %.1f bytes per row (one VM or the cluster at one tick), %.2f bytes per value\n",
		mib(rawBytes), rawRows, float64(rawBytes)/float64(rawRows), float64(rawBytes)/float64(rawValues))
	fmt.Fprintf(&report, "  SQLite, defaults after the month: %.1f MiB for %d rows (%.1f bytes per row)\n", mib(downBytes), downRows, float64(downBytes)/float64(downRows))
	fmt.Fprintf(&report, "  SQLite, %d VMs x %d ticks: %.1f bytes per row\n", ingestVMs, sqliteIngestTicks+1, ingest.bytesPerRow)
	fmt.Fprintf(&report, "  Prometheus, month as written by promtool: %.1f MiB for %d samples = %.2f bytes per value\n",
		mib(blocksBytes), blocksSamples, float64(blocksBytes)/float64(blocksSamples))
	fmt.Fprintf(&report, "  Prometheus, month after its compaction: %.1f MiB for %d samples = %.2f bytes per value\n\n",
		mib(compactedBytes), compactedSamples, float64(compactedBytes)/float64(compactedSamples))

	diff, err := maxRelativeDifference(rawAnswer, promAnswer)
	fmt.Fprintf(&report, "Agreement: SQLite (raw) and Prometheus answers to the month query: ")
	if err != nil {
		fmt.Fprintf(&report, "DIFFER: %v\n", err)
		b.Errorf("the stores disagree: %v", err)
	} else {
		fmt.Fprintf(&report, "same evaluation times, largest relative difference %.2g\n", diff)
	}
	fmt.Print(report.String())
	writeFigures(b, "history.txt", report.String())
}

// monthOfTicks makes deterministic ticks, one monthTick apart after start:
// CPU in millicores and memory in pages, moving with the time of day, carbon
// intensity changing hourly like grid data, fixed allocation and price.
func monthOfTicks(start time.Time, ticks int) []history.Batch {
	out := make([]history.Batch, ticks)
	for i := range out {
		at := start.Add(time.Duration(i+1) * monthTick)
		r := rand.New(rand.NewPCG(1, uint64(i)))
		phase := 2 * math.Pi * float64(at.Unix()%86400) / 86400
		carbon := math.Round(250 + 100*math.Sin(2*math.Pi*float64(at.Hour())/24))
		b := history.Batch{Time: at}
		for v := range monthVMs {
			cpu := math.Round((1+0.8*math.Sin(phase+float64(v))+0.2*r.Float64())*1000) / 1000
			mem := math.Round((2+0.5*math.Sin(phase+float64(v))+0.1*r.Float64())*(1<<30)/4096) * 4096
			s := history.VMSample{Namespace: "month", Name: fmt.Sprintf("vm-%d", v), Node: fmt.Sprintf("node-%d", v%3), Zone: "zone-a", Phase: "Running",
				CPUUsageCores: cpu, CPUAllocatedCores: 2, MemoryUsageBytes: mem, MemoryAllocatedBytes: 4 << 30, CarbonIntensity: carbon, CostPerHour: 0.096,
				UsageRead: true, Priced: true, IntensityRead: true}
			b.VMs = append(b.VMs, s)
			b.Cluster.VMs++
			b.Cluster.VMsRunning++
			b.Cluster.CPUUsageCores += s.CPUUsageCores
			b.Cluster.CPUAllocatedCores += s.CPUAllocatedCores
			b.Cluster.MemoryUsageBytes += s.MemoryUsageBytes
			b.Cluster.MemoryAllocatedBytes += s.MemoryAllocatedBytes
			b.Cluster.CostPerHour += s.CostPerHour
		}
		b.Cluster.CarbonIntensityAvg = carbon
		out[i] = b
	}
	return out
}

// loadSQLite appends the ticks one by one with the store's clock at each
// tick, so compaction runs as it would for a live recorder.
func loadSQLite(b *testing.B, path string, opts history.SQLiteOptions, ticks []history.Batch) (*history.SQLiteStore, time.Duration) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(ticks[0].Time)
	opts.Clock = clk
	s, err := history.OpenSQLite(ctx, path, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	began := time.Now()
	for _, t := range ticks {
		clk.SetTime(t.Time)
		if err := s.Append(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	return s, time.Since(began)
}

// ingestTick is tick i of the large cluster.
func ingestTick(at time.Time, i int) history.Batch {
	batch := history.Batch{Time: at, Cluster: history.ClusterSample{VMs: ingestVMs, VMsRunning: ingestVMs}}
	batch.VMs = make([]history.VMSample, ingestVMs)
	for v := range batch.VMs {
		batch.VMs[v] = history.VMSample{Namespace: "ingest", Name: fmt.Sprintf("vm-%05d", v),
			Node: fmt.Sprintf("node-%03d", v%500), Zone: fmt.Sprintf("zone-%d", v%3), Phase: "Running",
			CPUUsageCores: float64((v+i)%200) / 100, CPUAllocatedCores: 2,
			MemoryUsageBytes: float64((v+i)%1000) * (1 << 22), MemoryAllocatedBytes: 4 << 30,
			CarbonIntensity: 200 + float64(v%3)*50, CostPerHour: 0.096, UsageRead: true, Priced: true, IntensityRead: true}
	}
	return batch
}

type sqliteIngestStats struct {
	first       time.Duration   // the tick that registers the VMs
	steady      []time.Duration // the ticks after it
	compact     time.Duration   // downsampling all of them
	bytesPerRow float64
}

// sqliteIngest appends one-minute ticks of the large cluster to a new file,
// then moves the clock past the raw retention and times the compaction that
// Append would run, which averages those ticks into hourly rows.
func sqliteIngest(b *testing.B, path string) sqliteIngestStats {
	ctx := context.Background()
	at := time.Now().Truncate(time.Minute)
	clk := clocktesting.NewFakePassiveClock(at)
	s, err := history.OpenSQLite(ctx, path, history.SQLiteOptions{Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var stats sqliteIngestStats
	for i := 0; i <= sqliteIngestTicks; i++ {
		at := at.Add(time.Duration(i) * time.Minute)
		clk.SetTime(at)
		batch := ingestTick(at, i)
		began := time.Now()
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
		if took := time.Since(began); i == 0 {
			stats.first = took
		} else {
			stats.steady = append(stats.steady, took)
		}
	}
	size, rows := sqliteSize(b, s)
	stats.bytesPerRow = float64(size) / float64(rows)
	clk.SetTime(at.Add(sqliteIngestTicks*time.Minute + 50*time.Hour))
	began := time.Now()
	if err := s.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	stats.compact = time.Since(began)
	return stats
}

type scrapeStats struct{ duration, samples string }

// promIngest sets ticks of the large cluster on the exporter and times how
// long until Prometheus answers with all of the tick's VMs. Ticks are whole
// seconds, at least one apart, never in the future.
func promIngest(b *testing.B, store *history.PrometheusStore, promAPI promv1.API) ([]time.Duration, scrapeStats) {
	ctx := context.Background()
	var latencies []time.Duration
	var prev time.Time
	for i := range promIngestTicks {
		if wait := time.Until(prev.Add(time.Second)); wait > 0 {
			time.Sleep(wait) // pacing: the next tick must be a later second
		}
		at := time.Now().Truncate(time.Second)
		prev = at
		batch := ingestTick(at, i)
		// Every series of a scrape is committed together, so one metric
		// having all VMs at this tick means the tick is queryable.
		query := fmt.Sprintf(`count(timestamp(hypersdk_vm_cpu_usage_cores{namespace="ingest"}) == %d)`, at.Unix())
		began := time.Now()
		if err := store.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for {
			if n := instant(b, promAPI, query); n == ingestVMs {
				break
			}
			if time.Since(began) > 30*time.Second {
				b.Fatalf("tick %d not queryable in Prometheus after 30 s", i)
			}
			time.Sleep(20 * time.Millisecond) // polling granularity
		}
		latencies = append(latencies, time.Since(began))
	}
	return latencies, scrapeStats{
		duration: fmt.Sprintf("%.0f ms", 1000*instant(b, promAPI, `scrape_duration_seconds{job="test"}`)),
		samples:  fmt.Sprint(instant(b, promAPI, `scrape_samples_scraped{job="test"}`)),
	}
}

// instant is the value of a one-sample instant query now, 0 for none.
func instant(b *testing.B, promAPI promv1.API, query string) float64 {
	v, _, _, err := promAPI.Query(context.Background(), query, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) == 0 {
		return 0
	}
	return float64(vec[0].Value)
}

// timeQueries runs q on s and returns p50 and p99 latencies and the answer.
func timeQueries(b *testing.B, s history.Store, q history.Query) (time.Duration, time.Duration, []history.Series) {
	var answer []history.Series
	var took []time.Duration
	for range queries {
		began := time.Now()
		series, err := s.QueryVM(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(began))
		answer = series
	}
	if len(answer[0].Points) == 0 {
		b.Fatalf("month query answered no points")
	}
	return percentile(took, 0.5), percentile(took, 0.99), answer
}

// percentile is the nearest-rank percentile.
func percentile(ds []time.Duration, p float64) time.Duration {
	sorted := slices.Sorted(slices.Values(ds))
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// backfill writes the month as OpenMetrics, rendered through the store's
// Exporter so the names and labels are exactly what Prometheus would have
// scraped, and turns it into blocks in promDir/data with promtool.
func backfill(b *testing.B, month []history.Batch, promDir string) (size int64, samples int64, took time.Duration) {
	binDir, err := framework.PrometheusBinDir()
	if err != nil {
		b.Fatal(err)
	}
	promtool := filepath.Join(binDir, "promtool")
	if err := os.MkdirAll(promDir, 0o755); err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	exporter := history.NewExporter()
	registry := prometheus.NewRegistry()
	registry.MustRegister(exporter)
	// promtool parses its whole input once per 2-hour block it writes, so
	// one input per block keeps the backfill linear in the month's size.
	block := func(t time.Time) int64 { return t.UnixMilli() / (2 * time.Hour).Milliseconds() }
	input := filepath.Join(promDir, "block.om")
	for from := 0; from < len(month); {
		to := from
		for to < len(month) && block(month[to].Time) == block(month[from].Time) {
			to++
		}
		if err := writeOpenMetrics(input, exporter, registry, month[from:to]); err != nil {
			b.Fatal(err)
		}
		out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", input, filepath.Join(promDir, "data")).CombinedOutput()
		if err != nil {
			b.Fatalf("promtool: %v: %s", err, out)
		}
		from = to
	}
	os.Remove(input)
	size, samples = blockSizes(b, filepath.Join(promDir, "data"))
	return size, samples, time.Since(began)
}

// writeOpenMetrics renders the ticks through the exporter into an
// OpenMetrics file, each family's samples together as the format wants.
func writeOpenMetrics(path string, exporter *history.Exporter, registry *prometheus.Registry, ticks []history.Batch) error {
	families := map[string]*bytes.Buffer{}
	for _, t := range ticks {
		exporter.Set(t)
		mfs, err := registry.Gather()
		if err != nil {
			return err
		}
		for _, mf := range mfs {
			buf := families[mf.GetName()]
			if buf == nil {
				buf = &bytes.Buffer{}
				families[mf.GetName()] = buf
			}
			for _, m := range mf.GetMetric() {
				buf.WriteString(mf.GetName())
				if len(m.GetLabel()) > 0 {
					labels := make([]string, len(m.GetLabel()))
					for i, l := range m.GetLabel() {
						labels[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
					}
					buf.WriteString("{" + strings.Join(labels, ",") + "}")
				}
				fmt.Fprintf(buf, " %s %s\n", strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64),
					strconv.FormatFloat(float64(m.GetTimestampMs())/1000, 'f', -1, 64))
			}
		}
	}
	var out bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(families)) {
		fmt.Fprintf(&out, "# TYPE %s gauge\n", name)
		out.Write(families[name].Bytes())
	}
	out.WriteString("# EOF\n")
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// blockSizes adds up the files and the samples (from meta.json) of the
// persisted blocks in a TSDB directory; the head and its WAL are not blocks.
func blockSizes(b *testing.B, dataDir string) (size int64, samples int64) {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		meta, err := os.ReadFile(filepath.Join(dataDir, e.Name(), "meta.json"))
		if err != nil {
			continue // not a block
		}
		var m struct {
			Stats struct {
				NumSamples int64 `json:"numSamples"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(meta, &m); err != nil {
			b.Fatal(err)
		}
		samples += m.Stats.NumSamples
		filepath.WalkDir(filepath.Join(dataDir, e.Name()), func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if info, err := d.Info(); err == nil {
					size += info.Size()
				}
			}
			return nil
		})
	}
	return size, samples
}

// waitCompacted waits until Prometheus has merged the backfilled blocks:
// their number has dropped and then held for 10 s (compactions run back to
// back until none is left). It gives up after 3 minutes, measuring as is.
func waitCompacted(b *testing.B, url string) (before, after int) {
	before = blocksLoaded(b, url)
	after, since := before, time.Now()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
		time.Sleep(time.Second) // polling granularity
		n := blocksLoaded(b, url)
		if n != after {
			after, since = n, time.Now()
		}
		if after < before && time.Since(since) >= 10*time.Second {
			break
		}
	}
	return before, after
}

// blocksLoaded reads prometheus_tsdb_blocks_loaded from Prometheus' own
// metrics, which it does not scrape in this setup.
func blocksLoaded(b *testing.B, url string) int {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		if v, ok := strings.CutPrefix(scanner.Text(), "prometheus_tsdb_blocks_loaded "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			return int(n)
		}
	}
	b.Fatalf("prometheus_tsdb_blocks_loaded not in Prometheus' metrics (%v)", scanner.Err())
	return 0
}

func sqliteSize(b *testing.B, s *history.SQLiteStore) (size, rows int64) {
	ctx := context.Background()
	size, err := s.SizeBytes(ctx)
	if err != nil {
		b.Fatal(err)
	}
	rows, err = s.SampleCount(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return size, rows
}

// maxRelativeDifference compares two answers point by point.
func maxRelativeDifference(a, c []history.Series) (float64, error) {
	if len(a) != len(c) {
		return 0, fmt.Errorf("%d series against %d", len(a), len(c))
	}
	worst := 0.0
	for i := range a {
		if a[i].Field != c[i].Field || len(a[i].Points) != len(c[i].Points) {
			return 0, fmt.Errorf("%s: %d points against %s: %d", a[i].Field, len(a[i].Points), c[i].Field, len(c[i].Points))
		}
		for j, p := range a[i].Points {
			q := c[i].Points[j]
			if !p.Time.Equal(q.Time) {
				return 0, fmt.Errorf("%s point %d at %s against %s", a[i].Field, j, p.Time, q.Time)
			}
			if d := math.Abs(p.Value-q.Value) / math.Max(math.Max(math.Abs(p.Value), math.Abs(q.Value)), 1e-300); d > worst {
				worst = d
			}
		}
	}
	if worst > 1e-9 {
		return worst, fmt.Errorf("values differ by up to %.2g relative", worst)
	}
	return worst, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
