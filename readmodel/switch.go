package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/sqlite"
)

// scratchSuffix names the scratch files of rebuilds beside a read model.
const scratchSuffix = ".rebuild-"

// sideSuffix names, after a scratch file's name, the file its feed and
// notifications are written to until joined in (side.go); Open's clean-up
// of scratch files removes it with them.
const sideSuffix = "-side"

// ScratchPath is where a rebuild of projection builds its new tables,
// beside the live read model at live.
func ScratchPath(live, projection string) string { return live + scratchSuffix + projection }

// removeScratch deletes scratch files a crashed rebuild left beside the
// read model at live (they are never resumed: a rebuild starts afresh).
func removeScratch(live string) error {
	matches, err := filepath.Glob(live + scratchSuffix + "*")
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove leftover rebuild file: %w", err)
		}
	}
	return nil
}

// OpenScratch creates an empty read model at path, discarding whatever file
// was there: the "green" side of a blue/green rebuild, built beside the live
// read model and thrown away afterwards (or renamed over it, offline).
//
// It is opened for bulk loading (sqlite.Bulk), since a crash or a failure
// simply means starting the rebuild again; a failed rebuild discards it.
func OpenScratch(ctx context.Context, path string) (*DB, error) {
	db, err := openFresh(ctx, path)
	if err != nil {
		return nil, err
	}
	// On the one writer connection, which lives as long as the pool: sorts
	// (index builds) in memory, and pages read through a memory map rather
	// than one read() each, since the projection looks rows up all over the
	// tables it builds.
	for _, pragma := range []string{"PRAGMA temp_store = MEMORY", "PRAGMA mmap_size = 2147483648"} {
		if _, err := db.db.Write.ExecContext(ctx, pragma); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", pragma, err)
		}
	}
	if err := db.dropDeferredIndexes(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.side, err = openSide(ctx, path+sideSuffix); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openFresh creates an empty read model at path for bulk loading,
// discarding whatever file was there.
func openFresh(ctx context.Context, path string) (*DB, error) {
	if err := RemoveFile(path); err != nil {
		return nil, err
	}
	return openDurability(ctx, path, sqlite.Bulk)
}

// deferredIndexes are the secondary indexes no projection reads while it
// projects: a scratch read model drops them while it is loaded and builds
// them in one pass at the end (CreateDeferredIndexes), which costs less
// than keeping them up to date row by row. An online rebuild builds them
// too, before it switches: SwitchFrom's copies are fast only between tables
// with the same indexes.
var deferredIndexes = []string{"agenda_entries_by_start", "users_by_display_fold", "participants_by_user", "appointments_by_group"}

func (db *DB) dropDeferredIndexes(ctx context.Context) error {
	for _, name := range deferredIndexes {
		var stmt string
		if err := db.db.Write.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", name).Scan(&stmt); err != nil {
			return fmt.Errorf("read index %s: %w", name, err)
		}
		if _, err := db.db.Write.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return fmt.Errorf("drop index %s: %w", name, err)
		}
		db.deferred = append(db.deferred, stmt)
	}
	return nil
}

// CreateDeferredIndexes builds the secondary indexes a scratch read model
// left out while it was loaded and copies in the feed and notifications it
// wrote aside (joinSide); its schema and tables are then the live one's.
func (db *DB) CreateDeferredIndexes(ctx context.Context) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	// The side writer commits its file (its own goroutine, its own file)
	// while this one builds the indexes; the join then finds it written.
	if db.side != nil {
		db.side.close()
	}
	var err error
	for _, stmt := range db.deferred {
		if _, err = db.db.Write.ExecContext(ctx, stmt); err != nil {
			err = fmt.Errorf("%s: %w", stmt, err)
			break
		}
	}
	// Joined even after a failed index: the side writer has stopped, and
	// nothing may send it more.
	if jerr := db.joinSide(ctx); jerr != nil || err != nil {
		return errors.Join(err, jerr)
	}
	db.deferred = nil
	return nil
}

// RemoveFile deletes a read model file and the files SQLite keeps beside
// it (sqlite.RemoveFiles).
func RemoveFile(path string) error { return sqlite.RemoveFiles(path) }

// Path returns the file the read model lives in.
func (db *DB) Path() string { return db.db.Path }

// Tables returns the tables a projection owns, or false if there is no such
// projection.
func Tables(projection string) ([]string, bool) {
	t, ok := projectionTables[projection]
	return slices.Clone(t), ok
}

// SwitchFrom makes a projection's tables and checkpoint those of the scratch
// read model built beside this one, in one transaction: a reader sees either
// the old tables or the new ones, never a mix. It holds the projector's
// write lock throughout, so the live projection pauses (readers do not: WAL
// lets them keep reading the old tables until the commit).
//
// catchUp is called first, under that lock, with the live checkpoint; it
// must bring the scratch projection at least that far. The switched-in
// checkpoint is the scratch one, so the live projector, which then finds its
// checkpoint moved, resumes after it.
func (db *DB) SwitchFrom(ctx context.Context, projection string, scratch *DB, catchUp func(live int64) error) (int64, error) {
	tables, ok := projectionTables[projection]
	if !ok {
		return 0, agenda.Errorf(agenda.ENOTFOUND, "no projection %q", projection)
	}
	if err := scratch.finishSide(ctx); err != nil {
		return 0, err
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	live := db.Checkpoint(projection)
	if err := catchUp(live); err != nil {
		return 0, fmt.Errorf("catch up with the live projection: %w", err)
	}
	pos := scratch.Checkpoint(projection)
	if pos < live {
		return 0, fmt.Errorf("rebuilt %s reached %d, the live one is at %d", projection, pos, live)
	}
	if err := scratch.checkFeedFloor(); err != nil {
		return 0, err
	}
	// ATTACH is refused inside a transaction, so it runs on the writer
	// connection itself (the only one; writeMu keeps everyone else off it).
	conn, err := db.db.Write.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS scratch", scratch.Path()); err != nil {
		return 0, fmt.Errorf("attach %s: %w", scratch.Path(), err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE scratch")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for _, t := range tables {
		// DELETE and INSERT rather than DROP and RENAME: the table, its
		// indexes and every cached prepared statement stay valid. Into
		// the emptied table, INSERT … SELECT * from a table with the same
		// columns and indexes copies records and index entries as they
		// are (SQLite's transfer optimisation), several times faster than
		// inserting row by row: scratch should have its deferred indexes
		// (CreateDeferredIndexes) by now.
		if _, err := tx.ExecContext(ctx, "DELETE FROM main."+t); err != nil {
			return 0, fmt.Errorf("clear %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO main."+t+" SELECT * FROM scratch."+t); err != nil {
			return 0, fmt.Errorf("switch %s: %w", t, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO main.checkpoints (projection, position) VALUES (?, ?)
		ON CONFLICT (projection) DO UPDATE SET position = excluded.position`, projection, pos); err != nil {
		return 0, fmt.Errorf("store checkpoint of %s: %w", projection, err)
	}
	undo := db.raiseHorizonFor(pos) // before the switched-in rows can be read
	if err := tx.Commit(); err != nil {
		undo()
		return 0, fmt.Errorf("commit switch: %w", err)
	}
	db.setCheckpoint(projection, pos)
	return pos, nil
}

// CopyProjection copies a projection's tables and checkpoint from the read
// model file at from into db (a scratch read model): an offline rebuild of
// some projections carries the others over unchanged before the new file
// replaces the old one.
func (db *DB) CopyProjection(ctx context.Context, from, projection string) error {
	tables, ok := projectionTables[projection]
	if !ok {
		return agenda.Errorf(agenda.ENOTFOUND, "no projection %q", projection)
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	conn, err := db.db.Write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS source", from); err != nil {
		return fmt.Errorf("attach %s: %w", from, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE source")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, "DELETE FROM main."+t); err != nil {
			return fmt.Errorf("clear %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO main."+t+" SELECT * FROM source."+t); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	var pos int64
	err = tx.QueryRowContext(ctx, "SELECT position FROM source.checkpoints WHERE projection = ?", projection).Scan(&pos)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read checkpoint of %s: %w", projection, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO main.checkpoints (projection, position) VALUES (?, ?)
		ON CONFLICT (projection) DO UPDATE SET position = excluded.position`, projection, pos); err != nil {
		return fmt.Errorf("store checkpoint of %s: %w", projection, err)
	}
	undo := db.raiseHorizonFor(pos) // before the copied rows can be read
	if err := tx.Commit(); err != nil {
		undo()
		return fmt.Errorf("commit copy of %s: %w", projection, err)
	}
	db.setCheckpoint(projection, pos)
	return nil
}

// FlushInBackground writes the scratch file's pages to disk every interval
// until stop is called, on a goroutine of its own. A scratch read model
// commits without fsync (sqlite.Bulk), so the kernel keeps every page it
// wrote dirty in memory, and InstallAt's fsync, which must come before the
// rename, used to write the whole file at the end while the rebuild waited
// (0.8 s of a 20 s rebuild of 1,000,000 events). Flushed as it grows, the
// file is written while the projection still runs, and the final fsync
// finds little left.
//
// stop ends the flushing and returns the first error a flush met: Linux
// reports a failed write-back to one fsync only and then marks the pages
// clean, so InstallAt's own fsync would not see it, and a damaged file
// would be installed. stop may be called more than once.
func (db *DB) FlushInBackground(interval time.Duration) (stop func() error) {
	done := make(chan struct{})
	finished := make(chan struct{})
	var flushErr error // written by the goroutine before finished closes
	go func() {
		defer close(finished)
		f, err := os.OpenFile(db.Path(), os.O_RDWR, 0)
		if err != nil {
			return // InstallAt opens it again and reports why
		}
		defer f.Close()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := f.Sync(); err != nil && flushErr == nil {
					flushErr = fmt.Errorf("flush %s: %w", db.Path(), err)
				}
			}
		}
	}()
	var once sync.Once
	return func() error {
		once.Do(func() { close(done) })
		<-finished
		return flushErr
	}
}

// InstallAt closes db, a scratch read model, and puts its file in place of
// the read model at path, which no process may have open (the node is
// stopped: the data dir lock says so). The scratch file is flushed to disk
// first and the switch is a rename, so whatever happens the file at path is
// either the old read model or the whole new one; the old one's WAL,
// shared-memory and marker files go first, since they must not be applied
// to the new file.
func (db *DB) InstallAt(path string) error {
	if err := db.finishSide(context.Background()); err != nil {
		return err
	}
	if err := db.checkFeedFloor(); err != nil {
		return err
	}
	scratch := db.Path()
	if err := db.Close(); err != nil {
		return err
	}
	f, err := os.OpenFile(scratch, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("flush %s: %w", scratch, err)
	}
	if err := sameOwner(scratch, path); err != nil {
		return err
	}
	if err := sqlite.RemoveBeside(path); err != nil {
		return err
	}
	if err := os.Rename(scratch, path); err != nil {
		return fmt.Errorf("install the rebuilt read model: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("flush %s: %w", filepath.Dir(path), err)
		}
	}
	return nil
}

// sameOwner gives the file scratch the owner of the file it replaces, path:
// an offline rebuild run as root over a node that runs as another user
// (the image's nobody) must not leave it a file it cannot open (a review
// found the node refusing to start). Nothing to do if path does not exist,
// or if scratch is already the owner's (a rebuild run as that user).
func sameOwner(scratch, path string) error {
	old, err := os.Stat(path)
	if err != nil {
		return nil
	}
	now, err := os.Stat(scratch)
	if err != nil {
		return err
	}
	o, ok1 := old.Sys().(*syscall.Stat_t)
	n, ok2 := now.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 || (o.Uid == n.Uid && o.Gid == n.Gid) {
		return nil
	}
	if err := os.Chown(scratch, int(o.Uid), int(o.Gid)); err != nil {
		return fmt.Errorf("give %s the owner of %s: %w", scratch, path, err)
	}
	return nil
}
