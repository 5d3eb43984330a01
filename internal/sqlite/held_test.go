package sqlite_test

import (
	"context"
	"maps"
	"path/filepath"
	"testing"

	"github.com/agendahq/agenda/internal/sqlite"
)

// Update's Exec runs write statements held prepared across transactions
// (held.go); whatever a held statement cannot do goes through the driver
// as before: several statements in one text all run, a missing argument is
// an error rather than a NULL, and a statement that returns rows does not
// stay in progress (its transaction commits).
func TestUpdateHeldStatementsRunLikeTheDriver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "held.db")
	db, err := sqlite.Open(path, sqlite.Normal)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t (x INTEGER, y TEXT)")
	for i := range 3 { // the same text in three transactions: prepared once, run three times
		mustExec(t, db, "INSERT INTO t (x, y) VALUES (?, ?)", i, "held")
	}
	mustExec(t, db, "INSERT INTO t (x, y) VALUES (?, 'a'); INSERT INTO t (x, y) VALUES (11, 'b')", 10)
	if err := db.Update(ctx, func(c *sqlite.Conn) error {
		_, err := c.Exec("INSERT INTO t (x, y) VALUES (?, ?)", 99)
		return err
	}); err == nil {
		t.Error("an insert missing an argument succeeded")
	}
	for range 2 {
		mustExec(t, db, "INSERT INTO t (x, y) VALUES (?, 'returning') RETURNING x", 20)
	}
	want := map[string]int64{"held": 3, "a": 1, "b": 1, "returning": 2}
	got := map[string]int64{}
	if err := db.View(ctx, func(c *sqlite.Conn) error {
		rows, err := c.Query("SELECT y, COUNT(*) FROM t GROUP BY y")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var y string
			var n int64
			if err := rows.Scan(&y, &n); err != nil {
				return err
			}
			got[y] = n
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("rows by y: got %v, want %v", got, want)
	}
	// Close finalizes the held statements; the file reopens and takes
	// writes again.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(path, sqlite.Normal)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, "INSERT INTO t (x, y) VALUES (?, ?)", 4, "held")
}
