package history

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each in its own transaction; the number
// applied is kept in PRAGMA user_version. Never edit one that has shipped:
// append a new one.
//
// Layout, and why:
//   - vms gives each VM a small integer id, so sample rows do not repeat
//     namespace and name.
//   - vm_samples is keyed (vm, ts): one VM's history is one contiguous key
//     range, which is what a per-VM range query reads, and the key makes
//     re-appending a tick a no-op (ON CONFLICT DO NOTHING: any other
//     constraint a row breaks is an error, not a row silently dropped).
//   - ts is unix milliseconds. n is how many raw samples a row averages: 1
//     for a raw row, more for a downsampled one (stored at the end of its
//     interval), so queries average rows weighted by n and read raw and
//     downsampled rows alike.
//   - meta holds compacted_until: raw rows at or before it have been
//     downsampled.
var migrations = []string{
	`CREATE TABLE vms (
		id INTEGER PRIMARY KEY,
		namespace TEXT NOT NULL,
		name TEXT NOT NULL,
		UNIQUE (namespace, name)
	);
	CREATE TABLE vm_samples (
		vm INTEGER NOT NULL,
		ts INTEGER NOT NULL,
		n INTEGER NOT NULL,
		node TEXT NOT NULL,
		zone TEXT NOT NULL,
		phase TEXT NOT NULL,
		cpu_usage REAL NOT NULL,
		cpu_allocated REAL NOT NULL,
		memory_usage REAL NOT NULL,
		memory_allocated REAL NOT NULL,
		carbon_intensity REAL NOT NULL,
		cost_per_hour REAL NOT NULL,
		PRIMARY KEY (vm, ts)
	) WITHOUT ROWID;
	CREATE TABLE cluster_samples (
		ts INTEGER PRIMARY KEY,
		n INTEGER NOT NULL,
		vms REAL NOT NULL,
		vms_running REAL NOT NULL,
		vms_stopped REAL NOT NULL,
		vms_other REAL NOT NULL,
		cpu_usage REAL NOT NULL,
		cpu_allocated REAL NOT NULL,
		memory_usage REAL NOT NULL,
		memory_allocated REAL NOT NULL,
		carbon_intensity REAL NOT NULL,
		cost_per_hour REAL NOT NULL
	);
	CREATE TABLE meta (
		key TEXT PRIMARY KEY,
		value INTEGER NOT NULL
	) WITHOUT ROWID;
	INSERT INTO meta (key, value) VALUES ('compacted_until', 0);`,
	// The cluster's emission rate. Rows written before it have none (NULL),
	// not zero: their points are left out rather than drawn as no emissions.
	`ALTER TABLE cluster_samples ADD COLUMN carbon_emissions REAL;`,
	// A running VM's usage without a reading, and its cost on a node
	// without a price, are NULL rather than 0, so a missing signal is a gap
	// and averages (weightedAverages) leave it out. SQLite cannot drop a NOT
	// NULL in place: the table is rebuilt, rows as they were.
	`CREATE TABLE vm_samples_nullable (
		vm INTEGER NOT NULL,
		ts INTEGER NOT NULL,
		n INTEGER NOT NULL,
		node TEXT NOT NULL,
		zone TEXT NOT NULL,
		phase TEXT NOT NULL,
		cpu_usage REAL,
		cpu_allocated REAL NOT NULL,
		memory_usage REAL,
		memory_allocated REAL NOT NULL,
		carbon_intensity REAL NOT NULL,
		cost_per_hour REAL,
		PRIMARY KEY (vm, ts)
	) WITHOUT ROWID;
	INSERT INTO vm_samples_nullable (vm, ts, n, node, zone, phase, cpu_usage, cpu_allocated, memory_usage, memory_allocated, carbon_intensity, cost_per_hour)
		SELECT vm, ts, n, node, zone, phase, cpu_usage, cpu_allocated, memory_usage, memory_allocated, carbon_intensity, cost_per_hour FROM vm_samples;
	DROP TABLE vm_samples;
	ALTER TABLE vm_samples_nullable RENAME TO vm_samples;`,
	// A VM's carbon intensity that could not be read, and the cluster's
	// cost, emissions and average intensity when a running VM has no price
	// or intensity, are NULL rather than 0 as well.
	`CREATE TABLE vm_samples_v4 (
		vm INTEGER NOT NULL,
		ts INTEGER NOT NULL,
		n INTEGER NOT NULL,
		node TEXT NOT NULL,
		zone TEXT NOT NULL,
		phase TEXT NOT NULL,
		cpu_usage REAL,
		cpu_allocated REAL NOT NULL,
		memory_usage REAL,
		memory_allocated REAL NOT NULL,
		carbon_intensity REAL,
		cost_per_hour REAL,
		PRIMARY KEY (vm, ts)
	) WITHOUT ROWID;
	INSERT INTO vm_samples_v4 (vm, ts, n, node, zone, phase, cpu_usage, cpu_allocated, memory_usage, memory_allocated, carbon_intensity, cost_per_hour)
		SELECT vm, ts, n, node, zone, phase, cpu_usage, cpu_allocated, memory_usage, memory_allocated, carbon_intensity, cost_per_hour FROM vm_samples;
	DROP TABLE vm_samples;
	ALTER TABLE vm_samples_v4 RENAME TO vm_samples;
	CREATE TABLE cluster_samples_v4 (
		ts INTEGER PRIMARY KEY,
		n INTEGER NOT NULL,
		vms REAL NOT NULL,
		vms_running REAL NOT NULL,
		vms_stopped REAL NOT NULL,
		vms_other REAL NOT NULL,
		cpu_usage REAL NOT NULL,
		cpu_allocated REAL NOT NULL,
		memory_usage REAL NOT NULL,
		memory_allocated REAL NOT NULL,
		carbon_intensity REAL,
		cost_per_hour REAL,
		carbon_emissions REAL
	);
	INSERT INTO cluster_samples_v4 (ts, n, vms, vms_running, vms_stopped, vms_other, cpu_usage, cpu_allocated, memory_usage, memory_allocated, carbon_intensity, cost_per_hour, carbon_emissions)
		SELECT ts, n, vms, vms_running, vms_stopped, vms_other, cpu_usage, cpu_allocated, memory_usage, memory_allocated, carbon_intensity, cost_per_hour, carbon_emissions FROM cluster_samples;
	DROP TABLE cluster_samples;
	ALTER TABLE cluster_samples_v4 RENAME TO cluster_samples;`,
	// How many raw samples that had each column a downsampled row stands
	// for (weightedAverages); NULL on raw rows, which stand for one.
	`ALTER TABLE vm_samples ADD COLUMN cpu_usage_n INTEGER;
	ALTER TABLE vm_samples ADD COLUMN cpu_allocated_n INTEGER;
	ALTER TABLE vm_samples ADD COLUMN memory_usage_n INTEGER;
	ALTER TABLE vm_samples ADD COLUMN memory_allocated_n INTEGER;
	ALTER TABLE vm_samples ADD COLUMN carbon_intensity_n INTEGER;
	ALTER TABLE vm_samples ADD COLUMN cost_per_hour_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN vms_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN vms_running_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN vms_stopped_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN vms_other_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN cpu_usage_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN cpu_allocated_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN memory_usage_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN memory_allocated_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN carbon_intensity_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN cost_per_hour_n INTEGER;
	ALTER TABLE cluster_samples ADD COLUMN carbon_emissions_n INTEGER;`,
}

// migrate brings the schema up to date. The version is read again inside
// each migration's write transaction, so two writers opening a new file at
// once cannot both apply the same migration.
func migrate(ctx context.Context, db *sql.DB) error {
	for {
		done, err := migrateOne(ctx, db)
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("beginning migration: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, fmt.Errorf("reading schema version: %w", err)
	}
	if version > len(migrations) {
		return false, fmt.Errorf("schema version %d is newer than this binary knows (%d)", version, len(migrations))
	}
	if version == len(migrations) {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[version]); err != nil {
		return false, fmt.Errorf("applying migration %d: %w", version+1, err)
	}
	// PRAGMA takes no parameters; version is an int we computed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version+1)); err != nil {
		return false, fmt.Errorf("recording schema version %d: %w", version+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("committing migration %d: %w", version+1, err)
	}
	return false, nil
}

// checkSchema is what a read-only store does instead of migrating: it can
// only read a file the writer has brought up to this binary's version.
func checkSchema(ctx context.Context, db *sql.DB) error {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	switch {
	case version < len(migrations):
		// The writer of a newer version has not opened it yet (a rollout):
		// a store that cannot answer now, not a server error.
		return fmt.Errorf("%w: schema version is %d, this binary reads %d: the writer migrates the file when it opens it",
			ErrUnavailable, version, len(migrations))
	case version > len(migrations):
		return fmt.Errorf("schema version is %d, newer than this binary reads (%d)", version, len(migrations))
	}
	return nil
}
