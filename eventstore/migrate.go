package eventstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/sqlite"
)

// upgrade brings the store db to this build's schema: it creates the
// schema in a new file, migrates a version 1 or 2 store, and finishes a
// migration's compaction if one was cut short; another version is refused
// (sqlite.ErrSchemaMismatch).
func upgrade(ctx context.Context, db *sqlite.DB) error {
	var version int
	if err := db.Write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version of %s: %w", db.Path, err)
	}
	switch version {
	case 1:
		return migrateFrom1(ctx, db)
	case 2:
		return migrateFrom2(ctx, db)
	case schemaVersion:
		if err := db.WithTx(ctx, func(tx *sql.Tx) error { return reconcileTerms(ctx, tx) }); err != nil {
			return err
		}
		return compactAfterMigration(ctx, db)
	default:
		_, err := db.Init(ctx, schemaVersion, schema)
		return err
	}
}

// migrateFrom1 rewrites a schema version 1 store (IDs, times and data as
// text) in this build's schema and encoding, in one transaction: a store
// stopped part way is still version 1 and is migrated again on the next
// start. Every event is read as version 1 stored it and inserted as
// Restore inserts committed history, so the positions, the streams table
// and every envelope come out the same (TestOpenMigratesSchema1 compares
// them); the applied Raft index and term are kept. The file is then vacuumed, which
// is what gives the space back (resumed by the next Open if it is cut
// short); meanwhile the old rows, the new ones and the transaction's log
// are on disk together, and VACUUM writes a copy (at 10⁶ appointments the
// volume held 1.4 GB more at the peak, for a 1.26 GB store).
//
// An older build cannot read a newer version (its Init refuses the schema
// version): deploy/README.md says how to roll one back.
func migrateFrom1(ctx context.Context, db *sqlite.DB) error {
	start := time.Now()
	var n int64
	err := db.WithTx(ctx, func(sqlTx *sql.Tx) error {
		for _, q := range []string{
			// The triggers go with the tables they guard; RENAME would
			// rewrite their bodies to name events_v1. IF EXISTS:
			// events_no_replace came later within schema 1, and stores
			// created before it lack it.
			"DROP TRIGGER IF EXISTS events_no_update", "DROP TRIGGER IF EXISTS events_no_delete",
			"DROP TRIGGER IF EXISTS events_no_replace",
			"ALTER TABLE events RENAME TO events_v1",
			"ALTER TABLE streams RENAME TO streams_v1",
			eventsSchema + streamsSchema,
		} {
			if _, err := sqlTx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("migrate event store from schema 1: %w", err)
			}
		}
		t := &Tx{tx: sqlTx, ctx: ctx}
		for {
			es, err := t.readV1(t.head, 4096)
			if err != nil {
				return err
			}
			if len(es) == 0 {
				break
			}
			if err := t.insert(es); err != nil {
				return fmt.Errorf("migrate event store from schema 1: %w", err)
			}
			t.committed = t.committed[:0]
		}
		n = t.head
		var old, oldStreams, streams int64
		if err := sqlTx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM events_v1),
			(SELECT COUNT(*) FROM streams_v1), (SELECT COUNT(*) FROM streams)`).Scan(&old, &oldStreams, &streams); err != nil {
			return fmt.Errorf("migrate event store from schema 1: count: %w", err)
		}
		if old != n || oldStreams != streams {
			return fmt.Errorf("migrate event store from schema 1: copied %d events and %d streams of %d and %d", n, streams, old, oldStreams)
		}
		return finishMigration(ctx, sqlTx, 1, "DROP TABLE events_v1", "DROP TABLE streams_v1")
	})
	if err != nil {
		return err
	}
	return compactMigrated(ctx, db, 1, n, start)
}

// migrateFrom2 rebuilds a schema version 2 store's events table without
// its index on (stream, version) (see eventsSchema), in one transaction:
// the rows are copied as they are stored, so positions, IDs and encodings
// do not change, and the streams table and meta stay. A store stopped part
// way is still version 2 and is migrated again on the next start; the
// vacuum that follows gives the index's pages back, resumed by the next
// Open if it is cut short. Meanwhile the volume holds the old rows, the
// new ones and the vacuum's copy.
func migrateFrom2(ctx context.Context, db *sqlite.DB) error {
	start := time.Now()
	var n int64
	err := db.WithTx(ctx, func(sqlTx *sql.Tx) error {
		for _, q := range []string{
			// The triggers go with the table they guard (see migrateFrom1).
			"DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete", "DROP TRIGGER events_no_replace",
			"ALTER TABLE events RENAME TO events_v2",
			eventsTable,
			// The copy is committed history, already checked: the
			// trigger comes after it, not to look every row up.
			"INSERT INTO events (" + eventColumns + ") SELECT " + eventColumns + " FROM events_v2 ORDER BY position",
			noReplaceTrigger,
		} {
			if _, err := sqlTx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("migrate event store from schema 2: %w", err)
			}
		}
		var old, maxOld int64
		if err := sqlTx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM events_v2),
			(SELECT COALESCE(MAX(position), 0) FROM events_v2)`).Scan(&n, &old, &maxOld); err != nil {
			return fmt.Errorf("migrate event store from schema 2: count: %w", err)
		}
		if n != old || n != maxOld {
			return fmt.Errorf("migrate event store from schema 2: copied %d events of %d (last position %d)", n, old, maxOld)
		}
		return finishMigration(ctx, sqlTx, 2, "DROP TABLE events_v2")
	})
	if err != nil {
		return err
	}
	return compactMigrated(ctx, db, 2, n, start)
}

// finishMigration ends a migration from schema version from inside its
// transaction: it starts the term trail (terms.go), runs drops, marks the store for compaction
// (compactPending) and sets this build's schema version.
func finishMigration(ctx context.Context, sqlTx *sql.Tx, from int, drops ...string) error {
	if err := reconcileTerms(ctx, sqlTx); err != nil {
		return err
	}
	// The mark may be there already: a store whose migration from schema
	// 1 to 2 was stopped during its vacuum.
	for _, q := range append(drops, "INSERT INTO meta (key, value) VALUES ('"+compactPending+"', 1) ON CONFLICT (key) DO UPDATE SET value = 1",
		fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)) {
		if _, err := sqlTx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrate event store from schema %d: %w", from, err)
		}
	}
	return nil
}

// compactMigrated vacuums a store whose migration from schema version from
// has just committed its copy of n events, and logs how long it took.
func compactMigrated(ctx context.Context, db *sqlite.DB, from int, n int64, start time.Time) error {
	copied := time.Since(start)
	if err := compactAfterMigration(ctx, db); err != nil {
		return err
	}
	slog.Info("event store migrated", "path", db.Path, "from_schema", from, "to_schema", schemaVersion, "events", n,
		"copy", copied.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond))
	return nil
}

// compactPending is the meta key that says a migration's copy committed
// but its vacuum has not finished: Open runs it then, so that a node
// stopped (or out of disk) during the vacuum still gets the space back.
const compactPending = "compact_pending"

// compactAfterMigration vacuums the store if a migration left it to do
// (compactPending), and forgets that it has to.
func compactAfterMigration(ctx context.Context, db *sqlite.DB) error {
	var pending int
	err := db.Write.QueryRowContext(ctx, "SELECT COUNT(*) FROM meta WHERE key = ?", compactPending).Scan(&pending)
	if err != nil || pending == 0 {
		return err
	}
	// On the writer connection: the readers are query-only.
	for _, q := range []string{"VACUUM", "DELETE FROM meta WHERE key = '" + compactPending + "'"} {
		if _, err := db.Write.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("compact migrated event store: %s: %w", q, err)
		}
	}
	// VACUUM wrote the whole compacted file through the WAL, which keeps
	// that size until a write starts it over: truncate it. The
	// background checkpointer may be running a checkpoint of its own, in
	// which case SQLite reports busy at once rather than waiting; try
	// again a little later. Failing that, the first write after the log
	// starts over cuts it back to journal_size_limit (internal/sqlite).
	for try := 0; try < 100; try++ {
		var busy, logFrames, checkpointed int
		if err := db.Write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed); err != nil {
			return fmt.Errorf("compact migrated event store: truncate the WAL: %w", err)
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	slog.Warn("migrated event store: its WAL stays at the vacuum's size until the next write", "path", db.Path)
	return nil
}

// readV1 returns up to limit events of the version 1 table after position
// after, in order.
func (t *Tx) readV1(after int64, limit int) ([]events.Envelope, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+eventColumns+" FROM events_v1 WHERE position > ? ORDER BY position LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("migrate event store from schema 1: read: %w", err)
	}
	defer rows.Close()
	var out []events.Envelope
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("migrate event store from schema 1: %w", err)
		}
		if e.Position != after+int64(len(out))+1 {
			return nil, fmt.Errorf("migrate event store from schema 1: position %d follows %d", e.Position, after+int64(len(out)))
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
