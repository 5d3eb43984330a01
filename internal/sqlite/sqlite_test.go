package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agendahq/agenda/internal/sqlite"
)

// mustOpenDB opens a database in a fresh temporary directory and closes it
// when the test ends.
func mustOpenDB(tb testing.TB, d sqlite.Durability) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "test.db"), d)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// pragma reads the value of a PRAGMA on one pool as a string.
func pragma(tb testing.TB, db *sql.DB, name string) string {
	tb.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		tb.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// TestOpenBulk: a scratch file for bulk loading has no journal and is never
// fsynced, and its readers still cannot write.
func TestOpenBulk(t *testing.T) {
	db := mustOpenDB(t, sqlite.Bulk)
	for _, pool := range []struct {
		name string
		db   *sql.DB
	}{{"writer", db.Write}, {"reader", db.Read}} {
		if got := pragma(t, pool.db, "journal_mode"); got != "off" {
			t.Errorf("%s journal_mode: got %q, want off", pool.name, got)
		}
		if got := pragma(t, pool.db, "synchronous"); got != "0" {
			t.Errorf("%s synchronous: got %s, want 0", pool.name, got)
		}
	}
	if got := pragma(t, db.Read, "query_only"); got != "1" {
		t.Errorf("reader query_only: got %s, want 1", got)
	}
}

func TestOpenSettings(t *testing.T) {
	tests := []struct {
		name       string
		durability sqlite.Durability
		// synchronous is SQLite's numeric code: 1 NORMAL, 2 FULL.
		wantSynchronous string
	}{
		{name: "full durability", durability: sqlite.Full, wantSynchronous: "2"},
		{name: "normal durability", durability: sqlite.Normal, wantSynchronous: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpenDB(t, tt.durability)
			for _, pool := range []struct {
				name string
				db   *sql.DB
			}{{"writer", db.Write}, {"reader", db.Read}} {
				if got := pragma(t, pool.db, "journal_mode"); got != "wal" {
					t.Errorf("%s journal_mode: got %q, want %q", pool.name, got, "wal")
				}
				if got := pragma(t, pool.db, "synchronous"); got != tt.wantSynchronous {
					t.Errorf("%s synchronous: got %s, want %s", pool.name, got, tt.wantSynchronous)
				}
				if got := pragma(t, pool.db, "foreign_keys"); got != "1" {
					t.Errorf("%s foreign_keys: got %s, want 1", pool.name, got)
				}
				if got := pragma(t, pool.db, "busy_timeout"); got != "10000" {
					t.Errorf("%s busy_timeout: got %s, want 10000", pool.name, got)
				}
			}
			if got := pragma(t, db.Read, "query_only"); got != "1" {
				t.Errorf("reader query_only: got %s, want 1", got)
			}
			if got := pragma(t, db.Write, "query_only"); got != "0" {
				t.Errorf("writer query_only: got %s, want 0", got)
			}
			if got := db.Write.Stats().MaxOpenConnections; got != 1 {
				t.Errorf("writer max open connections: got %d, want 1", got)
			}
			if got := db.Read.Stats().MaxOpenConnections; got < 4 {
				t.Errorf("reader max open connections: got %d, want at least 4", got)
			}
		})
	}
}

func TestOpenBadPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "test.db")
	db, err := sqlite.Open(path, sqlite.Full)
	if err == nil {
		db.Close()
		t.Fatalf("Open(%s): got no error, want one", path)
	}
}

func TestReaderCannotWrite(t *testing.T) {
	db := mustOpenDB(t, sqlite.Normal)
	if _, err := db.Write.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := db.Read.Exec("INSERT INTO t (x) VALUES (1)"); err == nil {
		t.Fatal("insert through the read pool: got no error, want one")
	}
	var n int
	if err := db.Read.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	if n != 0 {
		t.Fatalf("rows after refused insert: got %d, want 0", n)
	}
}

func TestWithTx(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t, sqlite.Normal)
	if _, err := db.Write.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	count := func() int {
		t.Helper()
		var n int
		if err := db.Read.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}

	if err := db.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO t (x) VALUES (1)")
		return err
	}); err != nil {
		t.Fatalf("WithTx commit: %v", err)
	}
	if got := count(); got != 1 {
		t.Fatalf("rows after committed WithTx: got %d, want 1", got)
	}

	errBoom := errors.New("boom")
	err := db.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec("INSERT INTO t (x) VALUES (2)"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("WithTx with failing fn: got %v, want %v", err, errBoom)
	}
	if got := count(); got != 1 {
		t.Fatalf("rows after rolled back WithTx: got %d, want 1", got)
	}
}

// TestReadersSeeASnapshotWhileWriting checks what WAL mode buys: a read
// transaction keeps its view while the writer commits, and neither blocks.
func TestReadersSeeASnapshotWhileWriting(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t, sqlite.Full)
	if _, err := db.Write.Exec("CREATE TABLE t (x INTEGER); INSERT INTO t (x) VALUES (1)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	rtx, err := db.Read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("begin read: %v", err)
	}
	defer rtx.Rollback()
	var before int
	if err := rtx.QueryRow("SELECT COUNT(*) FROM t").Scan(&before); err != nil {
		t.Fatalf("count in read tx: %v", err)
	}

	done := make(chan error, 1)
	go func() {
		done <- db.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec("INSERT INTO t (x) VALUES (2)")
			return err
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("write beside an open reader: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("write blocked by an open read transaction")
	}

	var during int
	if err := rtx.QueryRow("SELECT COUNT(*) FROM t").Scan(&during); err != nil {
		t.Fatalf("count in read tx: %v", err)
	}
	if during != before {
		t.Fatalf("read tx count after a concurrent commit: got %d, want %d (its snapshot)", during, before)
	}
	var after int
	if err := db.Read.QueryRow("SELECT COUNT(*) FROM t").Scan(&after); err != nil {
		t.Fatalf("count: %v", err)
	}
	if after != before+1 {
		t.Fatalf("count after commit: got %d, want %d", after, before+1)
	}
}

// TestConcurrentWritersDoNotFail checks that the single writer connection
// with BEGIN IMMEDIATE serialises transactions instead of failing them with
// SQLITE_BUSY.
func TestConcurrentWritersDoNotFail(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t, sqlite.Normal)
	if _, err := db.Write.Exec("CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				errs <- db.WithTx(ctx, func(tx *sql.Tx) error {
					var n int
					if err := tx.QueryRow("SELECT n FROM counter").Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec("UPDATE counter SET n = ?", n+1)
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent WithTx: %v", err)
		}
	}
	var n int
	if err := db.Read.QueryRow("SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	if n != writers*each {
		t.Fatalf("counter: got %d, want %d (lost updates)", n, writers*each)
	}
}

func TestInit(t *testing.T) {
	ctx := context.Background()
	const schema = "CREATE TABLE t (x INTEGER);"

	t.Run("fresh database gets schema and version", func(t *testing.T) {
		db := mustOpenDB(t, sqlite.Normal)
		fresh, err := db.Init(ctx, 3, schema)
		if err != nil {
			t.Fatalf("Init: %v", err)
		}
		if !fresh {
			t.Errorf("fresh: got false, want true")
		}
		if got := pragma(t, db.Read, "user_version"); got != "3" {
			t.Errorf("user_version: got %s, want 3", got)
		}
		if _, err := db.Read.Exec("SELECT x FROM t"); err != nil {
			t.Errorf("schema not created: %v", err)
		}
	})

	t.Run("same version is left alone", func(t *testing.T) {
		db := mustOpenDB(t, sqlite.Normal)
		if _, err := db.Init(ctx, 3, schema); err != nil {
			t.Fatalf("first Init: %v", err)
		}
		// Running the schema twice would fail ("table t already exists").
		fresh, err := db.Init(ctx, 3, schema)
		if err != nil {
			t.Fatalf("second Init: %v", err)
		}
		if fresh {
			t.Errorf("fresh on second Init: got true, want false")
		}
	})

	t.Run("same version survives reopening", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "test.db")
		db, err := sqlite.Open(path, sqlite.Normal)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, err := db.Init(ctx, 3, schema); err != nil {
			t.Fatalf("Init: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		db, err = sqlite.Open(path, sqlite.Normal)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer db.Close()
		fresh, err := db.Init(ctx, 3, schema)
		if err != nil {
			t.Fatalf("Init after reopen: %v", err)
		}
		if fresh {
			t.Errorf("fresh after reopen: got true, want false")
		}
	})

	t.Run("other version is a mismatch", func(t *testing.T) {
		db := mustOpenDB(t, sqlite.Normal)
		if _, err := db.Init(ctx, 3, schema); err != nil {
			t.Fatalf("Init: %v", err)
		}
		_, err := db.Init(ctx, 4, schema)
		if !errors.Is(err, sqlite.ErrSchemaMismatch) {
			t.Fatalf("Init with another version: got %v, want %v", err, sqlite.ErrSchemaMismatch)
		}
		if got := pragma(t, db.Read, "user_version"); got != "3" {
			t.Errorf("user_version after mismatch: got %s, want 3", got)
		}
	})

	t.Run("failing schema leaves the database empty", func(t *testing.T) {
		db := mustOpenDB(t, sqlite.Normal)
		_, err := db.Init(ctx, 1, "CREATE TABLE a (x INTEGER); CREATE TABLE oops (")
		if err == nil {
			t.Fatal("Init with a broken schema: got no error, want one")
		}
		if got := pragma(t, db.Read, "user_version"); got != "0" {
			t.Errorf("user_version after failed Init: got %s, want 0", got)
		}
		var n int
		if err := db.Read.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'a'").Scan(&n); err != nil {
			t.Fatalf("inspect schema: %v", err)
		}
		if n != 0 {
			t.Errorf("table a after failed Init: got %d, want 0 (half-applied schema)", n)
		}
		// A later, correct Init still works.
		if _, err := db.Init(ctx, 1, schema); err != nil {
			t.Fatalf("Init after a failed one: %v", err)
		}
	})

	t.Run("error names the file", func(t *testing.T) {
		db := mustOpenDB(t, sqlite.Normal)
		if _, err := db.Init(ctx, 3, schema); err != nil {
			t.Fatalf("Init: %v", err)
		}
		_, err := db.Init(ctx, 4, schema)
		if err == nil || !strings.Contains(err.Error(), db.Path) {
			t.Fatalf("mismatch error: got %v, want it to name %s", err, db.Path)
		}
	})
}
