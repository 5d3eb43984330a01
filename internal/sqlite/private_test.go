//go:build unix

package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/agendahq/agenda/internal/sqlite"
)

// Finding 7 of issue 9: the databases were created 0644, readable by every
// local user. A database is now created 0600 — and one left 0644 by an
// older build is made so — and SQLite's -wal and -shm follow, whatever the
// process umask.
func TestDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // as a shell leaves it
	defer syscall.Umask(old)
	for _, existing := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "private.db")
		if existing {
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		db, err := sqlite.Open(path, sqlite.Normal)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.WithTx(context.Background(), func(tx *sql.Tx) error {
			_, err := tx.Exec(`CREATE TABLE t (x); INSERT INTO t VALUES (1)`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("existing=%v: %v", existing, err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("existing=%v: %s has mode %o, want 600", existing, filepath.Base(p), perm)
			}
		}
		db.Close()
	}
}
