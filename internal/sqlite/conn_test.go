package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agendahq/agenda/internal/sqlite"
)

// mustExec runs a statement in its own Update transaction.
func mustExec(tb testing.TB, db *sqlite.DB, q string, args ...any) {
	tb.Helper()
	if err := db.Update(context.Background(), func(tx *sqlite.Conn) error {
		_, err := tx.Exec(q, args...)
		return err
	}); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// TestUpdateCommitsOrRollsBack: Update commits when fn succeeds and leaves
// nothing behind when it fails, like WithTx.
func TestUpdateCommitsOrRollsBack(t *testing.T) {
	db := mustOpenDB(t, sqlite.Normal)
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	mustExec(t, db, "INSERT INTO t (x) VALUES (?)", 1)

	errBoom := errors.New("boom")
	err := db.Update(context.Background(), func(tx *sqlite.Conn) error {
		if _, err := tx.Exec("INSERT INTO t (x) VALUES (2)"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update with failing fn: got %v, want %v", err, errBoom)
	}
	var n int
	if err := db.Read.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after a committed and a rolled back Update: %d, %v; want 1", n, err)
	}
}

// TestUpdateStatements: Exec reports the rows it changed, Query and
// QueryRow read what the transaction wrote, QueryRow says sql.ErrNoRows,
// and Scan converts every type the read model stores — the same values
// database/sql would give.
func TestUpdateStatements(t *testing.T) {
	db := mustOpenDB(t, sqlite.Normal)
	mustExec(t, db, `CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, flag INTEGER, f REAL, b BLOB, maybe TEXT)`)
	type named string
	err := db.Update(context.Background(), func(tx *sqlite.Conn) error {
		for _, row := range [][]any{
			{"a", 7, true, 1.5, json.RawMessage(`{"k":1}`), nil},
			{named("b"), int64(-3), false, 2, []byte{0, 1}, "here"},
		} {
			if _, err := tx.Exec(`INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)`, row...); err != nil {
				return err
			}
		}
		res, err := tx.Exec(`UPDATE t SET n = n + 1`)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 2 {
			t.Errorf("UPDATE of two rows: RowsAffected %d, %v", n, err)
		}

		var id string
		var n int
		var n64 int64
		var flag bool
		var f float64
		var b []byte
		var maybe sql.NullString
		var anything any
		if err := tx.QueryRow(`SELECT id, n, n, flag, f, b, maybe, maybe FROM t WHERE id = ?`, "a").
			Scan(&id, &n, &n64, &flag, &f, &b, &maybe, &anything); err != nil {
			return err
		}
		if id != "a" || n != 8 || n64 != 8 || !flag || f != 1.5 || string(b) != `{"k":1}` || maybe.Valid || anything != nil {
			t.Errorf("row a: %q %d %d %v %v %q %+v %v", id, n, n64, flag, f, b, maybe, anything)
		}

		rows, err := tx.Query(`SELECT id, maybe FROM t ORDER BY id`)
		if err != nil {
			return err
		}
		var got []string
		for rows.Next() {
			var id string
			var maybe sql.NullString
			if err := rows.Scan(&id, &maybe); err != nil {
				rows.Close()
				return err
			}
			got = append(got, id+"="+maybe.String)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if strings.Join(got, ",") != "a=,b=here" {
			t.Errorf("rows: %v", got)
		}

		if err := tx.QueryRow(`SELECT id FROM t WHERE id = ?`, "zz").Scan(&id); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("QueryRow of no row: %v, want sql.ErrNoRows", err)
		}
		// NULL into a plain string is refused, as database/sql refuses it.
		if err := tx.QueryRow(`SELECT maybe FROM t WHERE id = 'a'`).Scan(&id); err == nil {
			t.Errorf("NULL scanned into a string without an error")
		}
		// So is a destination of the wrong kind, and a wrong column count.
		var ch chan int
		if err := tx.QueryRow(`SELECT n FROM t WHERE id = 'a'`).Scan(&ch); err == nil {
			t.Errorf("INTEGER scanned into a channel without an error")
		}
		if err := tx.QueryRow(`SELECT n, id FROM t WHERE id = 'a'`).Scan(&n); err == nil {
			t.Errorf("two columns scanned into one value without an error")
		}
		// A bad statement is an error, not a panic.
		if _, err := tx.Query(`SELECT nope FROM t`); err == nil {
			t.Errorf("query of a missing column without an error")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// TestQueryPlansIgnoreBoundValues: every connection runs with the query
// planner stability guarantee (qpsg.go). A partial index whose condition
// only the bound value satisfies is the visible difference: SQLite uses it
// when it plans with the value, and cannot when it plans without.
func TestQueryPlansIgnoreBoundValues(t *testing.T) {
	db := mustOpenDB(t, sqlite.Normal)
	mustExec(t, db, `CREATE TABLE t (x INTEGER, y INTEGER)`)
	mustExec(t, db, `CREATE INDEX t_five ON t (x) WHERE y = 5`)
	for _, pool := range []*sql.DB{db.Write, db.Read} {
		rows, err := pool.Query(`EXPLAIN QUERY PLAN SELECT x FROM t WHERE y = ? ORDER BY x`, 5)
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatalf("scan plan: %v", err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); strings.Contains(p, "t_five") {
			t.Errorf("plan %q uses the partial index matched against the bound value: the guarantee is off", p)
		}
	}
}

// TestSnapshotReadsOneSnapshot: the statements of one Snapshot see the
// database as it was when the first of them ran, whatever commits between
// them; View's statements each see the latest commit.
func TestSnapshotReadsOneSnapshot(t *testing.T) {
	db := mustOpenDB(t, sqlite.Normal)
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	mustExec(t, db, "INSERT INTO t (x) VALUES (1)")
	count := func(c *sqlite.Conn) int {
		t.Helper()
		var n int
		if err := c.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := db.Snapshot(context.Background(), func(c *sqlite.Conn) error {
		before := count(c)
		mustExec(t, db, "INSERT INTO t (x) VALUES (2)")
		if after := count(c); after != before {
			t.Errorf("one snapshot read %d rows, then %d", before, after)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(context.Background(), func(c *sqlite.Conn) error {
		before := count(c)
		mustExec(t, db, "INSERT INTO t (x) VALUES (3)")
		if after := count(c); after != before+1 {
			t.Errorf("View read %d rows, then %d after a commit; want %d", before, after, before+1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConnRefusesRowsLeftOpen: rows a function leaves open are closed and
// reported (an Update then commits nothing), and a Conn kept past its
// function refuses to run anything.
func TestConnRefusesRowsLeftOpen(t *testing.T) {
	db := mustOpenDB(t, sqlite.Normal)
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	mustExec(t, db, "INSERT INTO t (x) VALUES (1), (2)")
	var kept *sqlite.Conn
	err := db.Update(context.Background(), func(c *sqlite.Conn) error {
		kept = c
		if _, err := c.Exec("INSERT INTO t (x) VALUES (3)"); err != nil {
			return err
		}
		_, err := c.Query("SELECT x FROM t") // never closed
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "left open") {
		t.Fatalf("Update leaving rows open: %v, want an error saying so", err)
	}
	if _, err := kept.Exec("INSERT INTO t (x) VALUES (4)"); err == nil {
		t.Errorf("a Conn used after its function returned ran a statement")
	}
	err = db.View(context.Background(), func(c *sqlite.Conn) error {
		rows, err := c.Query("SELECT x FROM t")
		if err != nil {
			return err
		}
		rows.Next()
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "left open") {
		t.Fatalf("View leaving rows open: %v, want an error saying so", err)
	}
	// Nothing of the failed Update stayed, and the connections serve fresh
	// reads: the rows left open were closed, not kept with their snapshot.
	mustExec(t, db, "INSERT INTO t (x) VALUES (5)")
	for range 20 {
		err := db.View(context.Background(), func(c *sqlite.Conn) error {
			var n int
			if err := c.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
				return err
			}
			if n != 3 {
				t.Errorf("View counts %d rows, want 3 (1, 2 and 5)", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
