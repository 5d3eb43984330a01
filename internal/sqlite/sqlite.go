// Package sqlite opens SQLite databases the way every store in Agenda uses
// them: WAL mode, one writer connection that takes the write lock at BEGIN
// (so transactions never fail half way with SQLITE_BUSY), and a separate pool
// of query-only readers that WAL lets run beside the writer, and a goroutine
// that checkpoints the WAL so that commits need not (checkpoint.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// Durability chooses SQLite's synchronous setting for the writer.
type Durability string

const (
	// Full fsyncs on every commit: for state that must survive power loss.
	Full Durability = "FULL"
	// Normal fsyncs at WAL checkpoints only: a committed transaction survives
	// a process crash but may be lost on power loss, and the file stays
	// whole. For state that may lose its latest transactions but not the
	// rest (the audit trail, an event store that holds history no Raft
	// entry does). A store that can be rebuilt whole is opened Unsynced
	// (unsynced.go).
	Normal Durability = "NORMAL"
	// Bulk is for a scratch file loaded once and thrown away after a crash
	// or a failure (a read model being rebuilt beside the live one): no
	// journal at all (a commit writes its pages once, into the file, rather
	// than into a WAL first), no fsync, a large page cache, and a small
	// reader pool. A rolled-back transaction may leave the file damaged,
	// which is why a failed load must discard it.
	Bulk Durability = "BULK"
)

// DB is a SQLite database with a single writer and a pool of readers.
type DB struct {
	Path  string
	Write *sql.DB
	Read  *sql.DB
	held  held // the writer's statements Update runs (held.go)
	// checkpoints copies the WAL back in the background (checkpoint.go);
	// nil without a WAL.
	checkpoints *checkpointer
	// unsynced is set when the database was opened Unsynced and a marker
	// was written: Close then syncs the files and removes it.
	unsynced bool
}

// Option tunes one database.
type Option func(*options)

type options struct {
	writerCacheKB int
	owner         bool
}

// Owner says the caller holds the data dir (a node, an offline command),
// so that a database opened Normal or Full over a marker of this boot (left
// by an Unsynced writer that was killed) is its to settle: Open syncs the
// files and removes it first. Without it the marker stays, since another
// process may be writing the file unsynced beside this one (a backup beside
// a node).
func Owner() Option { return func(o *options) { o.owner = true } }

// WriterCache sets the writer connection's page cache (default 8 MB). A
// store that only appends (the audit trail) keeps its hot pages, the ends of
// its indexes, in less. The read model, updated all over its indexes, once
// had 32 MB: with 10⁶ appointments created by 64 clients, 8 MB (and 1 MB
// readers) wrote as fast (4,267 against 4,311 creates/s, 0.289 against
// 0.284 CPU-ms, one run each) in 24 MB less (RSS 156 against 180 MB); the
// pages it misses come from the kernel's page cache.
func WriterCache(mb int) Option { return func(o *options) { o.writerCacheKB = mb << 10 } }

// Open opens (creating if needed) the database at path.
func Open(path string, d Durability, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	unsynced := false
	switch boot := bootID(); {
	case path == "" || strings.HasPrefix(path, ":"): // in memory
	case d == Bulk: // a scratch file, discarded after any failure
	case boot == "":
		// No way to tell a machine's crash from the process's: synced, and
		// a marker an earlier boot left (the kernel changed) is doubt.
		if d == Unsynced {
			d = Normal
		}
		if _, err := os.Stat(path + markerSuffix); err == nil {
			return nil, fmt.Errorf("%s: %w (the kernel gives no boot ID to tell)", path, ErrUnsyncedAtCrash)
		}
	case d == Unsynced:
		if err := claimUnsynced(path, boot); err != nil {
			return nil, err
		}
		unsynced = true
	default:
		// Opened synced now, written unsynced before: whether the file is
		// whole is still the marker's to say. If it says so, the owner
		// makes it durable now and the marker goes: a crash of the
		// machine from here on is one the file is synced for.
		ours, err := readMarker(path, boot)
		if err != nil {
			return nil, err
		}
		if ours && o.owner {
			if err := settle(path); err != nil {
				return nil, err
			}
		}
	}
	// Readers mostly wait on the SQLite mutex-free WAL read path; a pool
	// larger than the core count keeps concurrent requests from queueing
	// for a connection.
	//
	// Page caches are private to each connection, in KiB. Readers keep a
	// small one: there are many of them and under a read load every one
	// fills its cache (16 readers of 32 MB took a node past 850 MB with
	// 100,000 appointments stored); pages a reader misses come from the
	// kernel's page cache, which all of them share. BenchmarkAgendaWeek16
	// with 100,000 stored: RSS 853–898 → 430–434 MB, CPU per read within
	// the noise (2,511–2,641 → 2,727–2,810 µs on a loaded machine). With
	// 10⁶ stored, 2 → 1 MB (and the writer 32 → 8 MB): RSS 208–209 →
	// 178–179 MB, 2,111–2,156 → 2,222–2,237 reads/s, p99 16.9–17.5 →
	// 16.4–16.7 ms (2026-12-04, not interleaved).
	journal, synchronous, writerKB, readerKB, readers := "WAL", string(d), 8000, 1000, 8*runtime.GOMAXPROCS(0)
	if d == Bulk {
		journal, synchronous, writerKB, readerKB, readers = "OFF", "OFF", 131072, 131072, 2
	} else if o.writerCacheKB > 0 {
		writerKB = o.writerCacheKB
	}
	common := url.Values{}
	common.Set("_journal_mode", journal)
	common.Set("_busy_timeout", "10000")
	common.Set("_foreign_keys", "on")
	common.Set("_synchronous", synchronous)
	// Cache prepared statements per connection: the same few queries run
	// thousands of times a second, and preparing them dominated the profile.
	common.Set("_stmt_cache_size", "64")
	// No SQLite mutex per connection: it is taken on every call and cost
	// 3–4 % of a rebuild's CPU, and nothing here calls into one connection
	// from two goroutines at once:
	//   - database/sql hands a connection to one goroutine at a time, and
	//     takes its own lock around every driver call on it (even when its
	//     context watcher closes a Rows);
	//   - sqlite.Conn, which bypasses database/sql, closes the rows a
	//     function left open before the connection goes back to the pool
	//     (the garbage collector would otherwise finalize them later, from
	//     its own goroutine);
	//   - sqlite3_interrupt, which go-sqlite3 calls from another goroutine
	//     when a query's context is cancelled, is documented as safe from
	//     any thread.
	common.Set("_mutex", "no")

	w := url.Values{}
	for k, v := range common {
		w[k] = v
	}
	w.Set("_txlock", "immediate")
	w.Set("_cache_size", fmt.Sprint(-writerKB))
	if err := keepPrivate(path); err != nil {
		return nil, err
	}
	wdb, err := sql.Open("sqlite3", "file:"+path+"?"+w.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// Touch the file so that its journal mode is set before any reader
	// opens it.
	if err := wdb.PingContext(context.Background()); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}

	r := url.Values{}
	for k, v := range common {
		r[k] = v
	}
	r.Set("_query_only", "1")
	r.Set("_cache_size", fmt.Sprint(-readerKB))
	readDSN := "file:" + path + "?" + r.Encode()
	rdb, err := sql.Open("sqlite3", readDSN)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	rdb.SetConnMaxIdleTime(0)
	db := &DB{Path: path, Write: wdb, Read: rdb, unsynced: unsynced}
	if journal == "WAL" {
		if db.checkpoints, err = startCheckpointer(wdb, readDSN); err != nil {
			rdb.Close()
			wdb.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	return db, nil
}

// Close closes both pools; a database opened Unsynced is then synced to
// disk and its marker removed.
func (db *DB) Close() error {
	err0 := db.checkpoints.close()
	db.held.release(db)
	err1 := db.Read.Close()
	err2 := db.Write.Close()
	var err3 error
	if db.unsynced && err0 == nil && err1 == nil && err2 == nil &&
		db.Read.Stats().OpenConnections == 0 && db.Write.Stats().OpenConnections == 0 {
		// Only once every connection has closed without error (Close
		// does not wait for one in use): one still open could write, a
		// checkpoint, after the files were synced.
		err3 = settle(db.Path)
	}
	return errors.Join(err0, err1, err2, err3)
}

// WithTx runs fn in a write transaction, committing if fn returns nil.
func (db *DB) WithTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ErrSchemaMismatch means the database was written with another schema
// version than this build's.
var ErrSchemaMismatch = errors.New("schema version mismatch")

// Init creates the schema in an empty database (user_version 0) in one
// transaction and stamps it with version. A database already at version is
// left alone; any other version fails with ErrSchemaMismatch, so the caller
// decides between migrating, rebuilding and refusing to start.
func (db *DB) Init(ctx context.Context, version int, schema string) (fresh bool, err error) {
	var cur int
	if err := db.Write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return false, fmt.Errorf("read schema version of %s: %w", db.Path, err)
	}
	if cur == version {
		return false, nil
	}
	if cur != 0 {
		return false, fmt.Errorf("%w: %s has schema version %d, this build knows %d", ErrSchemaMismatch, db.Path, cur, version)
	}
	return true, db.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("migrate %s: %w", db.Path, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
			return fmt.Errorf("set schema version of %s: %w", db.Path, err)
		}
		return nil
	})
}

// keepPrivate creates the database file readable by its owner only, or
// makes an existing one (and its -wal and -shm) so: it holds usernames,
// e-mail addresses and password hashes. SQLite creates the -wal and -shm
// files with the database file's permissions, so they follow.
func keepPrivate(path string) error {
	if path == "" || strings.HasPrefix(path, ":") {
		return nil // in memory
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restrict %s: %w", p, err)
		}
	}
	return nil
}
