package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// QueryVM answers q from the file; see Query for the bucketing.
func (s *SQLiteStore) QueryVM(ctx context.Context, q Query) ([]Series, error) {
	if err := checkQuery(q, vmKind); err != nil {
		return nil, err
	}
	fields := lookup(vmFieldTable, q.Fields)
	if err := s.recorded(ctx, q); err != nil {
		return nil, fmt.Errorf("querying history of VM %s/%s: %w", q.Namespace, q.Name, err)
	}
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM vms WHERE namespace = ? AND name = ?`, q.Namespace, q.Name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return bucketed(fields, nil, q), nil
	}
	if err != nil {
		return nil, fmt.Errorf("querying history of VM %s/%s: %w", q.Namespace, q.Name, err)
	}
	rows, err := s.buckets(ctx, "vm_samples", "vm = ? AND", []any{id}, weightedAverages(fields), len(fields), q)
	if err != nil {
		return nil, fmt.Errorf("querying history of VM %s/%s: %w", q.Namespace, q.Name, err)
	}
	return bucketed(fields, rows, q), nil
}

// QueryCluster answers q from the file; see Query for the bucketing.
func (s *SQLiteStore) QueryCluster(ctx context.Context, q Query) ([]Series, error) {
	if err := checkQuery(q, clusterKind); err != nil {
		return nil, err
	}
	fields := lookup(clusterFieldTable, q.Fields)
	if err := s.recorded(ctx, q); err != nil {
		return nil, fmt.Errorf("querying cluster history: %w", err)
	}
	rows, err := s.buckets(ctx, "cluster_samples", "", nil, weightedAverages(fields), len(fields), q)
	if err != nil {
		return nil, fmt.Errorf("querying cluster history: %w", err)
	}
	return bucketed(fields, rows, q), nil
}

// recorded returns ErrNotRecorded when the recorder stored nothing over
// q's buckets: every batch holds a cluster sample, so without one the
// recorder did not run then (installed later, or down), and empty series
// would read as VMs that used, cost and emitted nothing. Prometheus'
// store says the same of the recorder's series.
func (s *SQLiteStore) recorded(ctx context.Context, q Query) error {
	start, step := q.Start.UnixMilli(), q.Step.Milliseconds()
	last := start + (q.End.UnixMilli()-start)/step*step
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM cluster_samples WHERE ts > ? AND ts <= ? LIMIT 1`, start-step, last).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w: the recorder stored nothing from %s to %s: it did not run then",
			ErrUnavailable, ErrNotRecorded, q.Start.UTC().Format(time.RFC3339), q.End.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return fmt.Errorf("reading whether the recorder ran: %w", err)
	}
	return nil
}

// bucket is one evaluation time with a value per requested column; a column
// no row in it has is not Valid.
type bucket struct {
	k      int64 // index of the evaluation time: Start + k*Step
	values []sql.NullFloat64
}

// buckets averages (the select list of n values) the rows of table selected
// by where/args into the
// query's buckets, in SQL: the sample at ts belongs to the evaluation time
// T_k = start + k*step with T_k - step < ts <= T_k, that is
// k = ceil((ts-start)/step), computed in integer milliseconds as
// (ts - start + step - 1) / step, which is never negative for the selected
// rows. Rows are weighted by n, the raw samples each one stands for, so a
// downsampled row counts as the samples it replaced.
func (s *SQLiteStore) buckets(ctx context.Context, table, where string, args []any, averages string, n int, q Query) ([]bucket, error) {
	start, step := q.Start.UnixMilli(), q.Step.Milliseconds()
	last := start + (q.End.UnixMilli()-start)/step*step
	// Table and column names come from this package's constant tables.
	query := fmt.Sprintf(`SELECT (ts - ? + ? - 1) / ? AS k, %s FROM %s
		WHERE %s ts > ? AND ts <= ? GROUP BY k ORDER BY k`, averages, table, where)
	rows, err := s.db.QueryContext(ctx, query, append([]any{start, step, step}, append(args, start-step, last)...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bucket
	for rows.Next() {
		b := bucket{values: make([]sql.NullFloat64, n)}
		dest := []any{&b.k}
		for i := range b.values {
			dest = append(dest, &b.values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// bucketed turns buckets into one series per field.
func bucketed[S any](fields []field[S], rows []bucket, q Query) []Series {
	out := make([]Series, len(fields))
	for i, f := range fields {
		out[i] = Series{Field: f.name, Points: make([]Point, 0, len(rows))}
		for _, r := range rows {
			if !r.values[i].Valid {
				continue
			}
			t := time.UnixMilli(q.Start.UnixMilli() + r.k*q.Step.Milliseconds())
			out[i].Points = append(out[i].Points, Point{Time: t, Value: r.values[i].Float64})
		}
	}
	return out
}
