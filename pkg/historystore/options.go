// Package historystore gives hypersdk-controller (which writes history) and
// hypersdk-apiserver (which serves it) the same options for choosing and
// opening a history store.
package historystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/hypersdk/hypersdk/pkg/history"
)

// Backends.
const (
	SQLite     = "sqlite"
	Prometheus = "prometheus"
)

// Options choose a store.
type Options struct {
	Backend            string
	SQLitePath         string
	Retention          time.Duration
	RawRetention       time.Duration
	DownsampleInterval time.Duration
	PrometheusURL      string
	// PrometheusSource is "hypersdk" (the recorder's exported series) or
	// "kubevirt" (KubeVirt's kubevirt_vmi_* series).
	PrometheusSource string
	// FaultKillInWrite names a file: when it exists as a SQLite batch is
	// written, the writer deletes it and kills itself with SIGKILL inside
	// the write's transaction. A fault point for crash tests; inert while
	// the file does not exist.
	FaultKillInWrite string
}

// AddFlags adds the options to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Backend, "history-store", SQLite, "History store: sqlite (an embedded file) or prometheus (query_range on an existing Prometheus).")
	fs.StringVar(&o.SQLitePath, "history-db", "hypersdk-history.db", "Path of the SQLite history file.")
	fs.DurationVar(&o.Retention, "history-retention", 0, "How long history is kept: with sqlite, how long the writer (the recorder) keeps it (default 32 days: a month-to-date cost needs the whole month), which readers take from the file once it says; with prometheus, how long Prometheus keeps it (default: what Prometheus says).")
	fs.DurationVar(&o.RawRetention, "history-raw-retention", 48*time.Hour, "How long SQLite keeps samples as recorded before downsampling them.")
	fs.DurationVar(&o.DownsampleInterval, "history-downsample-interval", time.Hour, "Resolution of downsampled SQLite history.")
	fs.StringVar(&o.PrometheusURL, "prometheus-url", "", "Base URL of Prometheus, for --history-store=prometheus.")
	fs.StringVar(&o.PrometheusSource, "prometheus-source", "hypersdk", "Series to read from Prometheus: hypersdk (the recorder's) or kubevirt (kubevirt_vmi_*).")
	fs.StringVar(&o.FaultKillInWrite, "fault-kill-in-write", "", "Testing only: when this file exists at a SQLite write, delete it and die by SIGKILL inside the write's transaction.")
	_ = fs.MarkHidden("fault-kill-in-write")
}

// Validate returns every problem with the options, so that a server
// refuses them at start rather than failing every history read.
func (o *Options) Validate() []error {
	var errs []error
	switch o.Backend {
	case SQLite:
		if err := o.sqliteOptions(false).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("--history-retention, --history-raw-retention, --history-downsample-interval: %w", err))
		}
	case Prometheus:
		if o.PrometheusURL == "" {
			errs = append(errs, errors.New("--prometheus-url is required with --history-store=prometheus"))
		}
		if _, err := o.source(); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("--history-store %q: want %s or %s", o.Backend, SQLite, Prometheus))
	}
	return errs
}

func (o *Options) sqliteOptions(readOnly bool) history.SQLiteOptions {
	retention := o.Retention
	if retention == 0 {
		retention = history.DefaultSQLiteRetention
	}
	return history.SQLiteOptions{Retention: retention, RawRetention: o.RawRetention,
		DownsampleInterval: o.DownsampleInterval, ReadOnly: readOnly}
}

func (o *Options) source() (history.Source, error) {
	switch o.PrometheusSource {
	case "hypersdk":
		return history.SourceHyperSDK, nil
	case "kubevirt":
		return history.SourceKubeVirt, nil
	}
	return 0, fmt.Errorf("--prometheus-source %q: want hypersdk or kubevirt", o.PrometheusSource)
}

// Open opens the chosen store. A reader (readOnly) of a SQLite file that
// the recorder has not created yet gets a store that opens it on first use
// and until then answers every query with history.ErrUnavailable, never
// with empty series: an empty answer would say "no history", when the truth
// is "no recorder writes where this server reads".
func (o *Options) Open(ctx context.Context, readOnly bool) (history.Store, error) {
	switch o.Backend {
	case SQLite:
		opts := o.sqliteOptions(readOnly)
		if readOnly {
			return &lazySQLite{path: o.SQLitePath, opts: opts}, nil
		}
		if o.FaultKillInWrite != "" {
			opts.BeforeCommit = killInWrite(o.FaultKillInWrite)
		}
		return history.OpenSQLite(ctx, o.SQLitePath, opts)
	case Prometheus:
		if o.PrometheusURL == "" {
			return nil, errors.New("--prometheus-url is required with --history-store=prometheus")
		}
		src, err := o.source()
		if err != nil {
			return nil, err
		}
		return history.NewPrometheusStore(history.PrometheusOptions{URL: o.PrometheusURL, Source: src, Retention: o.Retention})
	}
	return nil, fmt.Errorf("--history-store %q: want %s or %s", o.Backend, SQLite, Prometheus)
}

// lazySQLite opens a read-only SQLite store once its file exists.
type lazySQLite struct {
	path string
	opts history.SQLiteOptions

	mu    sync.Mutex
	store *history.SQLiteStore
}

var _ history.Store = &lazySQLite{}

// open returns the store, or history.ErrUnavailable while the file does
// not exist.
func (l *lazySQLite) open(ctx context.Context) (*history.SQLiteStore, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		return l.store, nil
	}
	if _, err := os.Stat(l.path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: the SQLite file %s does not exist: the history recorder (hypersdk-controller) "+
			"creates it and must run where this server reads it", history.ErrUnavailable, l.path)
	}
	s, err := history.OpenSQLite(ctx, l.path, l.opts)
	if err != nil {
		return nil, err
	}
	l.store = s
	return s, nil
}

func (l *lazySQLite) Append(context.Context, history.Batch) error {
	return errors.New("read-only history store")
}

func (l *lazySQLite) QueryVM(ctx context.Context, q history.Query) ([]history.Series, error) {
	s, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	return s.QueryVM(ctx, q)
}

func (l *lazySQLite) QueryCluster(ctx context.Context, q history.Query) ([]history.Series, error) {
	s, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	return s.QueryCluster(ctx, q)
}

// Retention is the writer's, once the file exists (see
// history.SQLiteStore.Retention).
func (l *lazySQLite) Retention() time.Duration {
	s, err := l.open(context.Background())
	if err != nil {
		return l.opts.Retention
	}
	return s.Retention()
}

func (l *lazySQLite) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store == nil {
		return nil
	}
	return l.store.Close()
}

// killInWrite is the fault point of FaultKillInWrite.
func killInWrite(trigger string) func(time.Time) {
	return func(at time.Time) {
		if err := os.Remove(trigger); err != nil {
			return // not asked for
		}
		// Straight to stderr, unbuffered: the process is gone a moment later.
		fmt.Fprintf(os.Stderr, "fault point: killed inside the write of the batch at %s\n", at.UTC().Format(time.RFC3339Nano))
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL cannot be caught; this only waits for it to land
	}
}
