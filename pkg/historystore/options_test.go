package historystore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/hypersdk/hypersdk/pkg/history"
)

// TestValidate: options every read would fail on (raw retention beyond the
// retention, an unknown store or source, Prometheus without a URL) are
// refused at start; the defaults pass.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for valid
	}{
		{nil, ""},
		{[]string{"--history-retention=24h"}, "--history-raw-retention"},
		{[]string{"--history-downsample-interval=0.5ms"}, "downsample interval"},
		{[]string{"--history-downsample-interval=2h"}, "longest gap between samples"},
		{[]string{"--history-store=influx"}, `"influx"`},
		{[]string{"--history-store=prometheus"}, "--prometheus-url"},
		{[]string{"--history-store=prometheus", "--prometheus-url=http://p:9090", "--prometheus-source=vm"}, "--prometheus-source"},
		{[]string{"--history-store=prometheus", "--prometheus-url=http://p:9090"}, ""},
	} {
		o := &Options{}
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := errors.Join(o.Validate()...)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestReaderBeforeTheWriterMigrates: a reader of a file whose schema the
// writer has not brought up to this version yet (a rollout) answers that
// the store is unavailable now (a 503), not a server error.
func TestReaderBeforeTheWriterMigrates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	w, err := history.OpenSQLite(ctx, path, history.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	db, err := sql.Open("sqlite", path) // the driver history registers
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	o := &Options{Backend: SQLite, SQLitePath: path, RawRetention: 48 * time.Hour, DownsampleInterval: time.Hour}
	r, err := o.Open(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	now := time.Now()
	_, err = r.QueryCluster(ctx, history.Query{Start: now.Add(-time.Hour), End: now, Step: time.Minute, Fields: []string{history.FieldVMs}})
	if !errors.Is(err, history.ErrUnavailable) {
		t.Errorf("reading a file of an older schema: %v, want ErrUnavailable", err)
	}
}

// TestReaderTakesTheWritersRetention: a reader tells how far back the file
// holds history by the retention its writer prunes with, recorded in the
// file, not by its own flag; before the file exists its own stands in.
func TestReaderTakesTheWritersRetention(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	o := &Options{Backend: SQLite, SQLitePath: path, Retention: 32 * 24 * time.Hour, RawRetention: 48 * time.Hour, DownsampleInterval: time.Hour}
	r, err := o.Open(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Retention(); got != 32*24*time.Hour {
		t.Errorf("retention before the file exists: %s, want the reader's own 768h", got)
	}
	for _, writer := range []time.Duration{7 * 24 * time.Hour, 10 * 24 * time.Hour} { // the recorder restarted with another
		w, err := history.OpenSQLite(ctx, path, history.SQLiteOptions{Retention: writer})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Retention(); got != writer {
			t.Errorf("retention read while the writer keeps %s: %s", writer, got)
		}
		w.Close()
	}
}
