package history

import (
	"context"
	"fmt"
	"strings"
)

// Compact deletes samples older than Retention and replaces raw samples older
// than RawRetention by one row per VM (and for the cluster) per
// DownsampleInterval, holding their average and their count. Intervals are
// aligned to the unix epoch, (k*I, (k+1)*I], and a downsampled row is stored
// at the interval's end, so a query whose Step is a multiple of the interval
// and whose Start is aligned to it gets exactly the averages the raw samples
// would have given. Node, zone and phase of a downsampled row are those of
// the interval's last raw sample.
//
// Append calls it at most once per DownsampleInterval; it is exported for
// tests and benchmarks that drive a clock of their own.
func (s *SQLiteStore) Compact(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.compact(ctx)
}

func (s *SQLiteStore) compact(ctx context.Context) error {
	now := s.clock.Now().UnixMilli()
	cut := now - s.opts.Retention.Milliseconds()
	interval := s.opts.DownsampleInterval.Milliseconds()
	horizon := floorDiv(now-s.opts.RawRetention.Milliseconds(), interval) * interval
	if horizon < s.compactedUntil {
		// The clock went back; what is downsampled stays downsampled.
		horizon = s.compactedUntil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("compacting history: beginning transaction: %w", err)
	}
	defer tx.Rollback()
	steps := []sqlStep{
		// "vm IN (SELECT id FROM vms)" lets SQLite walk the (vm, ts) key
		// once per VM instead of scanning the whole table for a ts range.
		{"deleting VM samples past retention", `DELETE FROM vm_samples WHERE vm IN (SELECT id FROM vms) AND ts < ?`, []any{cut}},
		{"deleting cluster samples past retention", `DELETE FROM cluster_samples WHERE ts < ?`, []any{cut}},
	}
	if horizon > s.compactedUntil {
		steps = append(steps, downsampleVMs(interval, s.compactedUntil, horizon)...)
		steps = append(steps, downsampleCluster(interval, s.compactedUntil, horizon)...)
		steps = append(steps, sqlStep{"recording compaction horizon", `UPDATE meta SET value = ? WHERE key = 'compacted_until'`, []any{horizon}})
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("compacting history: %s: %w", st.what, err)
		}
	}
	// VMs gone for longer than the retention leave no rows; forget them, or
	// churning VM names would grow the table forever.
	res, err := tx.ExecContext(ctx, `DELETE FROM vms WHERE NOT EXISTS (SELECT 1 FROM vm_samples WHERE vm = vms.id)`)
	if err != nil {
		return fmt.Errorf("compacting history: forgetting VMs without samples: %w", err)
	}
	forgotten, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("compacting history: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("compacting history: committing: %w", err)
	}
	s.compactedUntil = horizon
	if forgotten > 0 {
		// Their ids may be reused; refill the cache from the table.
		clear(s.ids)
	}
	return nil
}

type sqlStep struct {
	what string
	sql  string
	args []any
}

// downsampleVMs replaces the raw VM rows in (from, to] by their averages per
// interval: aggregate into a temporary table, delete the raw rows, move the
// averages in. An average's key can equal a raw row's (a tick at the end of
// its interval), so the raw rows must be gone before the averages go in.
// Node, zone and phase are bare columns beside max(ts), for which SQLite
// takes the values of the row holding the maximum.
func downsampleVMs(interval, from, to int64) []sqlStep {
	cols := columns(vmFieldTable) + ", " + counts(vmFieldTable)
	return []sqlStep{
		{"averaging VM samples", fmt.Sprintf(`CREATE TEMP TABLE downsampled AS
			SELECT vm, (ts + ?1 - 1) / ?1 * ?1 AS bucket, sum(n) AS n, node, zone, phase, max(ts) AS last, %s, %s
			FROM vms CROSS JOIN vm_samples ON vm_samples.vm = vms.id
			WHERE ts > ?2 AND ts <= ?3 GROUP BY vm, bucket`, weightedAverages(vmFieldTable), countSums(vmFieldTable)),
			[]any{interval, from, to}},
		{"deleting averaged VM samples", `DELETE FROM vm_samples WHERE vm IN (SELECT id FROM vms) AND ts > ? AND ts <= ?`, []any{from, to}},
		{"storing VM averages", fmt.Sprintf(`INSERT INTO vm_samples (vm, ts, n, node, zone, phase, %[1]s)
			SELECT vm, bucket, n, node, zone, phase, %[1]s FROM temp.downsampled`, cols), nil},
		{"dropping VM averages", `DROP TABLE temp.downsampled`, nil},
	}
}

// downsampleCluster is downsampleVMs for the cluster's rows.
func downsampleCluster(interval, from, to int64) []sqlStep {
	cols := columns(clusterFieldTable) + ", " + counts(clusterFieldTable)
	return []sqlStep{
		{"averaging cluster samples", fmt.Sprintf(`CREATE TEMP TABLE downsampled AS
			SELECT (ts + ?1 - 1) / ?1 * ?1 AS bucket, sum(n) AS n, %s, %s
			FROM cluster_samples WHERE ts > ?2 AND ts <= ?3 GROUP BY bucket`, weightedAverages(clusterFieldTable), countSums(clusterFieldTable)),
			[]any{interval, from, to}},
		{"deleting averaged cluster samples", `DELETE FROM cluster_samples WHERE ts > ? AND ts <= ?`, []any{from, to}},
		{"storing cluster averages", fmt.Sprintf(`INSERT INTO cluster_samples (ts, n, %[1]s)
			SELECT bucket, n, %[1]s FROM temp.downsampled`, cols), nil},
		{"dropping cluster averages", `DROP TABLE temp.downsampled`, nil},
	}
}

// columns lists the SQLite columns of table.
func columns[S any](table []field[S]) string {
	cols := make([]string, len(table))
	for i, f := range table {
		cols[i] = f.column
	}
	return strings.Join(cols, ", ")
}

// weightedAverages is the select list averaging each column over rows
// weighted by the raw samples each row stands for that had the column:
// its count column (<column>_n) on a downsampled row, else n (a raw row
// stands for one sample, and rows downsampled before count columns
// existed for n). Rows where a column is NULL (unread, or written before
// it existed) do not count towards its average, which is NULL when no row
// has it (SQLite's x/0 is NULL).
func weightedAverages[S any](table []field[S]) string {
	avgs := make([]string, len(table))
	for i, f := range table {
		avgs[i] = fmt.Sprintf("sum(%[1]s * coalesce(%[1]s_n, n)) / sum(coalesce(%[1]s_n, n) * (%[1]s IS NOT NULL)) AS %[1]s", f.column)
	}
	return strings.Join(avgs, ", ")
}

// counts lists the count columns of table (see weightedAverages).
func counts[S any](table []field[S]) string {
	cols := make([]string, len(table))
	for i, f := range table {
		cols[i] = f.column + "_n"
	}
	return strings.Join(cols, ", ")
}

// countSums is the select list of the raw samples that had each column,
// for a downsampled row's count columns: without them, a row standing for
// an hour of which one minute had a reading would weigh that reading as
// the hour's.
func countSums[S any](table []field[S]) string {
	sums := make([]string, len(table))
	for i, f := range table {
		sums[i] = fmt.Sprintf("sum(coalesce(%[1]s_n, n) * (%[1]s IS NOT NULL)) AS %[1]s_n", f.column)
	}
	return strings.Join(sums, ", ")
}

// floorDiv is a/b rounded towards minus infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
