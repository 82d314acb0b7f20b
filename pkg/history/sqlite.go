package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLiteOptions configure a SQLiteStore; zero values take the defaults.
type SQLiteOptions struct {
	// Retention is how long samples are kept at all. Default DefaultSQLiteRetention (32 days).
	Retention time.Duration
	// RawRetention is how long samples are kept as recorded; older ones are
	// replaced by per-DownsampleInterval averages. Default 48 hours.
	RawRetention time.Duration
	// DownsampleInterval is the resolution of samples older than
	// RawRetention, and how often Append compacts. Default 1 hour.
	DownsampleInterval time.Duration
	// ReadOnly opens an existing file for queries only, as the API server
	// does while the recorder writes the same file.
	ReadOnly bool
	// Clock decides what "older than" means. Default the real clock.
	Clock clock.PassiveClock
	// BeforeCommit, when set, is called inside each Append's transaction
	// after every row is written and before the commit, with the batch's
	// time: a fault point for tests of what a crash there leaves.
	BeforeCommit func(at time.Time)
}

// ErrCompacted is wrapped by Append for a batch at or before the downsampled
// horizon: its interval already holds averages, and adding a raw sample to
// them could count a tick twice.
var ErrCompacted = errors.New("tick is in the already downsampled past")

// SQLiteStore is a Store in one SQLite file. One process writes it (the
// recorder) while others read it (ReadOnly): WAL mode lets readers go on
// during a write, and busy_timeout makes the rare lock waits (checkpoints)
// block briefly instead of failing.
//
// Append compacts the file (see Compact) after storing a batch, at most once
// per DownsampleInterval, so a recorder needs no schedule of its own.
type SQLiteStore struct {
	db    *sql.DB
	opts  SQLiteOptions
	clock clock.PassiveClock

	// mu serialises writers in this process; it guards the fields below.
	mu             sync.Mutex
	ids            map[vmKey]int64
	compactedUntil int64 // unix ms
	lastCompact    time.Time

	// readRetention is the writer's retention as a reader last read it
	// (ms; 0 until read).
	readRetention atomic.Int64
}

type vmKey struct{ namespace, name string }

// busyTimeout bounds how long a statement waits for another connection's
// lock, typically a WAL checkpoint, before failing.
const busyTimeout = 10 * time.Second

// OpenSQLite opens (and unless ReadOnly, creates and migrates) the store at
// path.
func OpenSQLite(ctx context.Context, path string, opts SQLiteOptions) (*SQLiteStore, error) {
	opts, err := sqliteDefaults(opts)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("history database path %q: %w", path, err)
	}
	params := url.Values{}
	params.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	if opts.ReadOnly {
		// mode=ro also refuses to create a missing file.
		params.Set("mode", "ro")
	} else {
		params.Set("_journal_mode", "WAL")
		// FULL: a commit is on disk when it returns, so an acknowledged
		// Append survives a crash or power loss (NORMAL could lose it).
		params.Set("_synchronous", "FULL")
		// Every transaction here writes, so take the write lock at BEGIN
		// instead of upgrading later, which can fail without waiting.
		params.Set("_txlock", "immediate")
	}
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: params.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening history database %s: %w", abs, err)
	}
	// Each connection has its own page cache; a few cover queries running
	// beside a write.
	db.SetMaxOpenConns(4)
	s := &SQLiteStore{db: db, opts: opts, clock: opts.Clock, ids: map[vmKey]int64{}}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening history database %s: %w", abs, err)
	}
	return s, nil
}

// DefaultSQLiteRetention is how long SQLite keeps history by default: a
// month and a day, so the month-to-date cost of the 31st of a month still
// reads from its first (30 days cut half a day off it).
const DefaultSQLiteRetention = 32 * 24 * time.Hour

// Validate returns what is wrong with the options, with their defaults
// filled in, as OpenSQLite would find it: for a server to refuse at start
// what would otherwise fail every read.
func (o SQLiteOptions) Validate() error {
	_, err := sqliteDefaults(o)
	return err
}

func sqliteDefaults(o SQLiteOptions) (SQLiteOptions, error) {
	if o.Retention == 0 {
		o.Retention = DefaultSQLiteRetention
	}
	if o.RawRetention == 0 {
		o.RawRetention = 48 * time.Hour
	}
	if o.DownsampleInterval == 0 {
		o.DownsampleInterval = time.Hour
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	switch {
	case o.Retention < 0 || o.RawRetention < 0:
		return o, fmt.Errorf("history retention %s and raw retention %s must be positive", o.Retention, o.RawRetention)
	case o.RawRetention > o.Retention:
		return o, fmt.Errorf("history raw retention %s is longer than retention %s", o.RawRetention, o.Retention)
	case o.DownsampleInterval < time.Millisecond || o.DownsampleInterval%time.Millisecond != 0:
		return o, fmt.Errorf("history downsample interval %s is not a positive whole number of milliseconds", o.DownsampleInterval)
	case o.DownsampleInterval > MaxSampleGap-IntegrationStep:
		// Rows further apart would read as outages, and each would count
		// for a minute of spend rather than its interval.
		return o, fmt.Errorf("history downsample interval %s is longer than %s, the longest gap between samples that is not an outage",
			o.DownsampleInterval, MaxSampleGap-IntegrationStep)
	}
	return o, nil
}

func (s *SQLiteStore) init(ctx context.Context) error {
	if s.opts.ReadOnly {
		return checkSchema(ctx, s.db)
	}
	if err := migrate(ctx, s.db); err != nil {
		return err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'compacted_until'`).Scan(&s.compactedUntil); err != nil {
		return fmt.Errorf("reading compaction horizon: %w", err)
	}
	// The writer's retention, at every open: a reader (hypersdk-apiserver)
	// tells what the file still holds by it, not by a flag of its own that
	// may say otherwise. A row, not a schema version: readers and writers
	// of other versions read the file as before.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('retention_ms', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, s.opts.Retention.Milliseconds()); err != nil {
		return fmt.Errorf("recording the retention: %w", err)
	}
	return nil
}

// Retention is how long the store keeps history: the writer's
// SQLiteOptions.Retention. A reader asks the file what its writer last
// recorded, since the writer prunes by its own; while the file cannot say
// (busy past the timeout under load), the answer it last gave stands in,
// and the reader's own only before any (or for a writer that records none).
func (s *SQLiteStore) Retention() time.Duration {
	if !s.opts.ReadOnly {
		return s.opts.Retention
	}
	ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
	defer cancel()
	var ms int64
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'retention_ms'`).Scan(&ms)
	switch {
	case err == nil && ms > 0:
		s.readRetention.Store(ms)
	case err != nil && !errors.Is(err, sql.ErrNoRows) && s.readRetention.Load() > 0:
		ms = s.readRetention.Load()
	default:
		return s.opts.Retention
	}
	return time.Duration(ms) * time.Millisecond
}

// Close closes the database.
func (s *SQLiteStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing history database: %w", err)
	}
	return nil
}

// Append stores b in one transaction; see Store.Append. It returns an error
// wrapping ErrCompacted for a batch older than the downsampled horizon.
func (s *SQLiteStore) Append(ctx context.Context, b Batch) error {
	if s.opts.ReadOnly {
		return errors.New("appending history: store is read-only")
	}
	ts := b.Time.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts <= s.compactedUntil {
		return fmt.Errorf("appending history at %s (downsampled up to %s): %w",
			b.Time.UTC().Format(time.RFC3339), time.UnixMilli(s.compactedUntil).UTC().Format(time.RFC3339), ErrCompacted)
	}
	newIDs, err := s.insert(ctx, ts, b)
	if err != nil {
		return fmt.Errorf("appending history at %s: %w", b.Time.UTC().Format(time.RFC3339), err)
	}
	// Only ids of a committed transaction may be cached.
	for k, id := range newIDs {
		s.ids[k] = id
	}
	if now := s.clock.Now(); now.Sub(s.lastCompact) >= s.opts.DownsampleInterval {
		// The batch is already durable; a failed compaction only delays
		// downsampling until the next Append tries again.
		if err := s.compact(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "Compacting history failed; will retry on the next append")
		} else {
			s.lastCompact = now
		}
	}
	return nil
}

// insertVMSample takes the fields in vmFieldTable's order.
var insertVMSample = fmt.Sprintf(`INSERT INTO vm_samples (vm, ts, n, node, zone, phase, %s)
	VALUES (?, ?, 1, ?, ?, ?%s) ON CONFLICT DO NOTHING`, columns(vmFieldTable), strings.Repeat(", ?", len(vmFieldTable)))

// insertClusterSample takes the fields in clusterFieldTable's order.
var insertClusterSample = fmt.Sprintf(`INSERT INTO cluster_samples (ts, n, %s)
	VALUES (?, 1%s) ON CONFLICT DO NOTHING`, columns(clusterFieldTable), strings.Repeat(", ?", len(clusterFieldTable)))

// insert writes the batch in one transaction and returns the ids it gave to
// VMs it had not seen before.
func (s *SQLiteStore) insert(ctx context.Context, ts int64, b Batch) (map[vmKey]int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	defer tx.Rollback()
	newIDs, err := s.vmIDs(ctx, tx, b.VMs)
	if err != nil {
		return nil, err
	}
	stmt, err := tx.PrepareContext(ctx, insertVMSample)
	if err != nil {
		return nil, fmt.Errorf("preparing VM sample insert: %w", err)
	}
	defer stmt.Close()
	for i := range b.VMs {
		v := &b.VMs[i]
		k := vmKey{v.Namespace, v.Name}
		id, ok := s.ids[k]
		if !ok {
			id = newIDs[k]
		}
		args := []any{id, ts, v.Node, v.Zone, v.Phase}
		for _, f := range vmFieldTable {
			args = append(args, sql.NullFloat64{Float64: f.value(v), Valid: f.has(v)})
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return nil, fmt.Errorf("inserting sample of VM %s/%s: %w", v.Namespace, v.Name, err)
		}
	}
	args := []any{ts}
	for _, f := range clusterFieldTable {
		args = append(args, sql.NullFloat64{Float64: f.value(&b.Cluster), Valid: f.has(&b.Cluster)})
	}
	if _, err := tx.ExecContext(ctx, insertClusterSample, args...); err != nil {
		return nil, fmt.Errorf("inserting cluster sample: %w", err)
	}
	if s.opts.BeforeCommit != nil {
		s.opts.BeforeCommit(time.UnixMilli(ts))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	return newIDs, nil
}

// vmIDs registers the VMs of vms that are not in the id cache.
func (s *SQLiteStore) vmIDs(ctx context.Context, tx *sql.Tx, vms []VMSample) (map[vmKey]int64, error) {
	newIDs := map[vmKey]int64{}
	var stmt *sql.Stmt
	for i := range vms {
		k := vmKey{vms[i].Namespace, vms[i].Name}
		if _, ok := s.ids[k]; ok {
			continue
		}
		if _, ok := newIDs[k]; ok {
			continue
		}
		if stmt == nil {
			var err error
			// The no-op update makes RETURNING give the id of a VM
			// registered before, too.
			if stmt, err = tx.PrepareContext(ctx, `INSERT INTO vms (namespace, name) VALUES (?, ?)
				ON CONFLICT (namespace, name) DO UPDATE SET name = excluded.name RETURNING id`); err != nil {
				return nil, fmt.Errorf("preparing VM registration: %w", err)
			}
			defer stmt.Close()
		}
		var id int64
		if err := stmt.QueryRowContext(ctx, k.namespace, k.name).Scan(&id); err != nil {
			return nil, fmt.Errorf("registering VM %s/%s: %w", k.namespace, k.name, err)
		}
		newIDs[k] = id
	}
	return newIDs, nil
}

// SizeBytes is the size of the database (page_count * page_size), including
// pages committed to the WAL but not yet checkpointed.
func (s *SQLiteStore) SizeBytes(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&n); err != nil {
		return 0, fmt.Errorf("measuring history database: %w", err)
	}
	return n, nil
}

// SampleCount is the number of stored rows, VM and cluster. Each row holds
// every field of one VM (or of the cluster) at one tick, or the average of
// one downsampled interval. It counts by scanning: for benchmarks and
// infrequent metrics, not for every request.
func (s *SQLiteStore) SampleCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM vm_samples) + (SELECT count(*) FROM cluster_samples)`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting history samples: %w", err)
	}
	return n, nil
}
