package eventstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/agendahq/agenda/internal/sqlite"
)

// Info summarises an event store file.
type Info struct {
	Events  int64 `json:"events"`
	Head    int64 `json:"head"`
	Streams int64 `json:"streams"`
	// AppliedIndex is the Raft index the store had applied (0 in a restored
	// store: its history starts a new Raft log).
	AppliedIndex int64 `json:"applied_index"`
	// DigestChecked reports, of a restore, that the backup's events matched
	// the digest it recorded when written (digest.go); false for a backup
	// of an older build, which records none.
	DigestChecked bool `json:"digest_checked,omitempty"`
}

// ErrNotEventStore means a file is missing, is not SQLite, or is not an
// event store of this build's schema version.
var ErrNotEventStore = errors.New("not an event store")

// Backup writes a consistent copy of the event store file src to dst, which
// must not exist. It may run in another process while a node writes to src:
// VACUUM INTO reads one WAL snapshot, so the copy holds exactly the events
// committed when it began (never half an FSM batch), and the node is not
// blocked (readers and the writer do not wait for each other in WAL mode).
func Backup(ctx context.Context, src, dst string) (Info, error) {
	if _, err := os.Stat(dst); err == nil {
		return Info{}, fmt.Errorf("%s already exists; choose a new file", dst)
	}
	db, err := openExisting(ctx, src)
	if err != nil {
		return Info{}, err
	}
	defer db.Close()
	// On this process's own writer connection (the readers are
	// query-only, which forbids VACUUM INTO); VACUUM INTO only reads src.
	if _, err := db.Write.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		os.Remove(dst)
		return Info{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	info, err := Inspect(ctx, dst)
	if err == nil {
		err = recordDigest(ctx, dst)
	}
	if err != nil {
		removeDB(dst)
		return Info{}, fmt.Errorf("check the copy: %w", err)
	}
	return info, nil
}

// PrepareRestore writes the event store of a new data dir at dst from the
// backup file src: a copy whose applied Raft index and term are cleared, so
// that a node started on it begins a new Raft log (a new single node, or the
// first node of a new cluster) and applies its new entries after the
// restored history instead of skipping them as already applied. dst must not
// exist. The read model is not restored: the node projects it at start.
func PrepareRestore(ctx context.Context, src, dst string) (Info, error) {
	if _, err := os.Stat(dst); err == nil {
		return Info{}, fmt.Errorf("%s already exists", dst)
	}
	// Opened through a copy beside dst: the backup is only read.
	from, done, err := readableCopy(src, filepath.Dir(dst))
	if err != nil {
		return Info{}, err
	}
	defer done()
	db, err := openExisting(ctx, from)
	if err != nil {
		return Info{}, err
	}
	checked, err := checkDigest(ctx, db)
	if err != nil {
		db.Close()
		return Info{}, err
	}
	// A fresh VACUUM INTO rather than a file copy: it also works on a
	// backup that has a WAL beside it, and the result is compact.
	_, err = db.Write.ExecContext(ctx, "VACUUM INTO ?", dst)
	db.Close()
	if err != nil {
		os.Remove(dst)
		return Info{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	out, err := sqlite.Open(dst, sqlite.Full)
	if err != nil {
		os.Remove(dst)
		return Info{}, err
	}
	// A backup an older build wrote is brought to this build's schema.
	err = upgrade(ctx, out)
	if err == nil {
		err = out.WithTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "UPDATE meta SET value = 0 WHERE key IN ('applied_index', 'applied_term')"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM meta WHERE key = ?", digestKey); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, deleteUnproven); err != nil {
				return err
			}
			if err := resetTerms(ctx, tx, 0, 0); err != nil {
				return err
			}
			// The new cluster's Raft log numbers from 1 again (lineage.go).
			lineage, err := newLineage()
			if err == nil {
				_, err = tx.ExecContext(ctx, upsertLineage, lineage)
			}
			return err
		})
	}
	if err == nil {
		var check string
		if err = out.Read.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err == nil && check != "ok" {
			err = fmt.Errorf("%w: integrity check: %s", ErrNotEventStore, check)
		}
	}
	if err == nil {
		err = checkStreams(ctx, out)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		removeDB(dst)
		return Info{}, fmt.Errorf("prepare restored store: %w", err)
	}
	info, err := Inspect(ctx, dst)
	info.DigestChecked = checked
	return info, err
}

// checkStreams refuses a store whose streams do not read as the state
// machine writes them: each stream's events, in position order, versions
// 1, 2, 3… without a gap or a repeat, and the streams table holding each
// stream's last version and position. A restored store skips the state
// machine, and no index refuses a repeated version (see eventsSchema), so
// a damaged or edited backup would otherwise be served, and every write to
// such a stream refused or, worse, accepted against a wrong version. It
// reads and sorts every event's stream, version and position once: 2 s of
// a restore of 10⁶ events (3.4 s against 1.4 s without it,
// BenchmarkPrepareRestore, 2026-12-05), and a restore is rare.
func checkStreams(ctx context.Context, db *sqlite.DB) error {
	var stream any // as stored (see packID)
	var version, want int64
	err := db.Read.QueryRowContext(ctx, `SELECT stream, version, n FROM (
		SELECT stream, version, ROW_NUMBER() OVER (PARTITION BY stream ORDER BY position) AS n FROM events)
		WHERE version != n LIMIT 1`).Scan(&stream, &version, &want)
	if err == nil {
		return fmt.Errorf("%w: stream %s holds version %d where version %d belongs", ErrNotEventStore, storedName(stream), version, want)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check streams: %w", err)
	}
	err = db.Read.QueryRowContext(ctx, `SELECT COALESCE(e.stream, s.stream) FROM
		(SELECT stream, COUNT(*) AS version, MAX(position) AS position FROM events GROUP BY stream) AS e
		FULL JOIN streams AS s ON s.stream = e.stream
		WHERE e.version IS NOT s.version OR e.position IS NOT s.position LIMIT 1`).Scan(&stream)
	if err == nil {
		return fmt.Errorf("%w: the streams table disagrees with the events of stream %s", ErrNotEventStore, storedName(stream))
	} else if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check streams: %w", err)
	}
	return nil
}

// storedName is a stored ID as text, for a message.
func storedName(v any) string {
	if s, err := unpackID(v); err == nil {
		return s
	}
	return fmt.Sprintf("%x", v)
}

// InspectBackup is Inspect for a file that is only to be read (a backup):
// it inspects a copy, in the system's temporary directory.
func InspectBackup(ctx context.Context, path string) (Info, error) {
	from, done, err := readableCopy(path, "")
	if err != nil {
		return Info{}, err
	}
	defer done()
	return Inspect(ctx, from)
}

// readableCopy copies the SQLite file at path, with the write-ahead log
// beside it if there is one, into a new directory under dir (the system's
// temporary directory if ""), and returns the copy's path and what removes
// it. Opening a SQLite file writes to it (its journal mode, a -shm file;
// ours also makes it private): a restore once needed write access to the
// backup it read, and left it changed (a review). The copy takes those
// writes instead.
func readableCopy(path, dir string) (string, func(), error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		// Said plainly (an operations review read "not an event store:
		// stat …: no such file or directory"); the same exit code.
		return "", nil, fmt.Errorf("%w: there is no file %s", ErrNotEventStore, path)
	} else if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrNotEventStore, err)
	}
	tmp, err := os.MkdirTemp(dir, ".agenda-restore-")
	if err != nil {
		return "", nil, err
	}
	done := func() { os.RemoveAll(tmp) }
	to := filepath.Join(tmp, "events.db")
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(path+suffix, to+suffix); err != nil && (suffix == "" || !errors.Is(err, os.ErrNotExist)) {
			done()
			return "", nil, fmt.Errorf("read %s: %w", path+suffix, err)
		}
	}
	return to, done, nil
}

// copyFile copies the file src to the new file dst, private to its owner.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Inspect reports what an event store file holds, after checking that it is
// one (ErrNotEventStore otherwise).
func Inspect(ctx context.Context, path string) (Info, error) {
	db, err := openExisting(ctx, path)
	if err != nil {
		return Info{}, err
	}
	defer db.Close()
	var info Info
	err = db.Read.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM events), (SELECT COALESCE(MAX(position), 0) FROM events),
		(SELECT COUNT(*) FROM streams), (SELECT value FROM meta WHERE key = 'applied_index')`).
		Scan(&info.Events, &info.Head, &info.Streams, &info.AppliedIndex)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s: %v", ErrNotEventStore, path, err)
	}
	if info.Events != info.Head {
		return info, fmt.Errorf("%w: %s holds %d events up to position %d (positions must be dense)", ErrNotEventStore, path, info.Events, info.Head)
	}
	return info, nil
}

// openExisting opens an event store file that must already exist with a
// schema this build reads; it never creates or migrates one.
func openExisting(ctx context.Context, path string) (*sqlite.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotEventStore, err)
	}
	db, err := sqlite.Open(path, sqlite.Normal)
	if errors.Is(err, ErrUnsyncedAtCrash) {
		return nil, err // an event store, which the machine stopped under
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotEventStore, path, err)
	}
	var v int
	if err := db.Read.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrNotEventStore, path, err)
	}
	// Versions 1 and 2 differ only in how values are encoded and in an
	// index: what Inspect counts and VACUUM INTO copies is the same.
	if v < 1 || v > schemaVersion {
		db.Close()
		return nil, fmt.Errorf("%w: %s has schema version %d, and event stores have 1 to %d (a read model, say, or a store of a newer build)", ErrNotEventStore, path, v, schemaVersion)
	}
	return db, nil
}

func removeDB(path string) {
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(path + s)
	}
}
