package sqlite_test

import (
	"os"
	"testing"
	"time"

	"github.com/agendahq/agenda/internal/sqlite"
)

// TestWALIsCheckpointedInTheBackground: the writer no longer checkpoints
// every thousand pages (only at a far higher backstop), yet the log is
// copied back without any commit doing it. A WAL that has been checkpointed
// in full starts over at its first frame on the next write, so after a large
// transaction the file stops growing once the checkpointer has run; without
// it, every small write would append to it.
func TestWALIsCheckpointedInTheBackground(t *testing.T) {
	db := mustOpenDB(t, sqlite.Normal)
	if got := pragma(t, db.Write, "wal_autocheckpoint"); got == "1000" || got == "0" {
		t.Fatalf("writer's wal_autocheckpoint = %s, want the backstop", got)
	}
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	// About 2,000 pages in one transaction: more than the default
	// automatic checkpoint, far less than the backstop.
	mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
		INSERT INTO t (v) SELECT printf('%.4000c', 'x') FROM n`)
	walSize := func() int64 {
		fi, err := os.Stat(db.Path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	big := walSize()
	if big < 2000*4096 {
		t.Fatalf("WAL after the large write is %d bytes, want at least %d", big, 2000*4096)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A new value each time: SQLite writes no page for an
		// update that changes nothing.
		mustExec(t, db, "UPDATE t SET v = hex(randomblob(8)) WHERE id = 1")
		if walSize() <= big {
			return // the write started the log over: it had been checkpointed
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAL grew from %d to %d bytes and was never checkpointed", big, walSize())
		}
		big = walSize()
		time.Sleep(20 * time.Millisecond)
	}
}
