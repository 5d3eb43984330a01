package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agendahq/agenda/internal/sqlite"
)

// boot plays the machine's boot ID: Open reads it from the file it returns.
func boot(tb testing.TB, id string) string {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "boot_id")
	if err := os.WriteFile(f, []byte(id+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	sqlite.PlayBoot(tb, f)
	return f
}

// reboot changes the boot ID the file from boot holds.
func reboot(tb testing.TB, f, id string) {
	tb.Helper()
	if err := os.WriteFile(f, []byte(id+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// openAndWrite opens path Unsynced and inserts one row into t, leaving it open.
func openAndWrite(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(path, sqlite.Unsynced)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	if _, err := db.Write.Exec("CREATE TABLE IF NOT EXISTS t (v INTEGER); INSERT INTO t VALUES (1)"); err != nil {
		tb.Fatal(err)
	}
	return db
}

func rows(tb testing.TB, db *sqlite.DB) int {
	tb.Helper()
	var n int
	if err := db.Read.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// wantRefused fails the test unless opening path as d (with opts) fails
// with ErrUnsyncedAtCrash; what says which open it is.
func wantRefused(t *testing.T, what, path string, d sqlite.Durability, opts ...sqlite.Option) {
	t.Helper()
	db, err := sqlite.Open(path, d, opts...)
	if db != nil {
		db.Close()
	}
	if !errors.Is(err, sqlite.ErrUnsyncedAtCrash) {
		t.Fatalf("Open %s = %v, want ErrUnsyncedAtCrash", what, err)
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestUnsynced: a database opened Unsynced never fsyncs, and Open tells a
// crash of the machine while it was written (refused, ErrUnsyncedAtCrash)
// from a crash of the process or a clean close (opened as it is).
func TestUnsynced(t *testing.T) {
	t.Run("never fsyncs", func(t *testing.T) {
		boot(t, "boot-1")
		db := mustOpenDB(t, sqlite.Unsynced)
		if got := pragma(t, db.Write, "synchronous"); got != "0" {
			t.Errorf("writer synchronous: got %s, want 0 (OFF)", got)
		}
		if got := pragma(t, db.Read, "synchronous"); got != "0" {
			t.Errorf("reader synchronous: got %s, want 0 (OFF): a reader's checkpoint would fsync", got)
		}
		if got := pragma(t, db.Write, "journal_mode"); got != "wal" {
			t.Errorf("journal_mode: got %s, want wal", got)
		}
	})
	t.Run("closed cleanly, then the machine restarted", func(t *testing.T) {
		f := boot(t, "boot-1")
		path := filepath.Join(t.TempDir(), "x.db")
		db := openAndWrite(t, path)
		if !exists(path + "-unsynced") {
			t.Fatal("no marker while open")
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if exists(path + "-unsynced") {
			t.Fatal("marker left after a clean close")
		}
		reboot(t, f, "boot-2")
		db = openAndWrite(t, path)
		defer db.Close()
		if got := rows(t, db); got != 2 {
			t.Errorf("rows after a clean close and a reboot = %d, want 2", got)
		}
	})
	t.Run("the process stopped, the machine did not", func(t *testing.T) {
		boot(t, "boot-1")
		path := filepath.Join(t.TempDir(), "x.db")
		crashed := openAndWrite(t, path) // never closed before the next Open
		defer crashed.Close()
		db, err := sqlite.Open(path, sqlite.Unsynced)
		if err != nil {
			t.Fatalf("Open after the process stopped, same boot: %v", err)
		}
		defer db.Close()
		if got := rows(t, db); got != 1 {
			t.Errorf("rows = %d, want 1", got)
		}
	})
	t.Run("the machine stopped while it was written", func(t *testing.T) {
		f := boot(t, "boot-1")
		path := filepath.Join(t.TempDir(), "x.db")
		crashed := openAndWrite(t, path)
		defer crashed.Close()
		reboot(t, f, "boot-2")
		wantRefused(t, "after a reboot with the marker left", path, sqlite.Unsynced)
		if err := sqlite.RemoveFiles(path); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"", "-wal", "-shm", "-unsynced"} {
			if exists(path + s) {
				t.Errorf("RemoveFiles left %s", path+s)
			}
		}
		db := openAndWrite(t, path)
		defer db.Close()
		if got := rows(t, db); got != 1 {
			t.Errorf("rows in the database started over = %d, want 1", got)
		}
	})
	t.Run("a marker not written whole", func(t *testing.T) {
		boot(t, "boot-1")
		path := filepath.Join(t.TempDir(), "x.db")
		if err := os.WriteFile(path+"-unsynced", []byte("boo"), 0o600); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, "with a torn marker", path, sqlite.Unsynced)
	})
	t.Run("opened synced over a marker", func(t *testing.T) {
		f := boot(t, "boot-1")
		path := filepath.Join(t.TempDir(), "x.db")
		crashed := openAndWrite(t, path)
		defer crashed.Close()
		db, err := sqlite.Open(path, sqlite.Normal)
		if err != nil {
			t.Fatalf("Open Normal over this boot's marker: %v", err)
		}
		db.Close()
		if !exists(path + "-unsynced") {
			t.Error("a synced open and close removed the marker of the unsynced writer")
		}
		reboot(t, f, "boot-2")
		wantRefused(t, "Normal by the owner over another boot's marker", path, sqlite.Normal, sqlite.Owner())
		reboot(t, f, "boot-1")
		crashed.Close() // as if killed: the marker stays
		os.WriteFile(path+"-unsynced", []byte("boot-1"), 0o600)
		db, err = sqlite.Open(path, sqlite.Normal, sqlite.Owner())
		if err != nil {
			t.Fatalf("Open Normal by the owner over this boot's marker: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if exists(path + "-unsynced") {
			t.Error("the owner's synced open and close left the marker of its own boot: a reboot would doubt a synced file")
		}
		reboot(t, f, "boot-2")
		db, err = sqlite.Open(path, sqlite.Normal)
		if err != nil {
			t.Fatalf("Open after the owner settled the file and the machine restarted: %v", err)
		}
		db.Close()
	})
	t.Run("no boot ID: synced as Normal, no marker", func(t *testing.T) {
		sqlite.PlayBoot(t, filepath.Join(t.TempDir(), "none"))
		path := filepath.Join(t.TempDir(), "x.db")
		db := openAndWrite(t, path)
		defer db.Close()
		if got := pragma(t, db.Write, "synchronous"); got != "1" {
			t.Errorf("synchronous without a boot ID: got %s, want 1 (NORMAL)", got)
		}
		if exists(path + "-unsynced") {
			t.Error("a marker without a boot ID to put in it")
		}
	})
	t.Run("no boot ID, and a marker an earlier kernel left", func(t *testing.T) {
		sqlite.PlayBoot(t, filepath.Join(t.TempDir(), "none"))
		path := filepath.Join(t.TempDir(), "x.db")
		if err := os.WriteFile(path+"-unsynced", []byte("boot-1"), 0o600); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, "without a boot ID over a marker", path, sqlite.Unsynced)
	})
}
