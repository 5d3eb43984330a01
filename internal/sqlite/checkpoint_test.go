package sqlite_test

import (
	"os"
	"strconv"
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
	page, err := strconv.ParseInt(pragma(t, db.Write, "page_size"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	// About 2,000 pages in one transaction: more than the default
	// automatic checkpoint, far less than the backstop.
	mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
		INSERT INTO t (v) SELECT printf('%.*c', ?, 'x') FROM n`, page-100)
	big := walSize(t, db)
	if big < 2000*page {
		t.Fatalf("WAL after the large write is %d bytes, want at least %d", big, 2000*page)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A new value each time: SQLite writes no page for an
		// update that changes nothing.
		mustExec(t, db, "UPDATE t SET v = hex(randomblob(8)) WHERE id = 1")
		if walSize(t, db) <= big {
			return // the write started the log over: it had been checkpointed
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAL grew from %d to %d bytes and was never checkpointed", big, walSize(t, db))
		}
		big = walSize(t, db)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWALIsWrittenOverInPlace: under a steady load the log grows to the
// backstop, is checkpointed and starts over. The file is then written over
// in place, not cut back first: cut back (to 4 MB, once), it grew by the
// same 12 MB again every cycle, and ext4 allocates blocks for every write
// past a file's end. A log grown far past the backstop (a reader held it,
// say) is still cut back to journal_size_limit.
func TestWALIsWrittenOverInPlace(t *testing.T) {
	db := mustOpenDB(t, sqlite.Normal)
	backstop, err := strconv.Atoi(pragma(t, db.Write, "wal_autocheckpoint"))
	if err != nil {
		t.Fatal(err)
	}
	limit, err := strconv.ParseInt(pragma(t, db.Write, "journal_size_limit"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	page, err := strconv.ParseInt(pragma(t, db.Write, "page_size"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	for _, tc := range []struct {
		name  string
		pages int
		// want reports what is wrong with the log's size once it
		// started over after the write that grew it to grown, or "".
		want func(size, grown int64) string
	}{
		{"a backstop's worth", backstop + 64, func(size, grown int64) string {
			if size < grown {
				return "cut back, though no larger than a steady load makes it"
			}
			return ""
		}},
		{"far more", 3 * backstop, func(size, _ int64) string {
			if size > limit {
				return "not cut back to journal_size_limit, " + strconv.FormatInt(limit, 10) + " bytes"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One transaction of that many pages (rows of about a
			// page each, on the pages the last case freed).
			mustExec(t, db, "DELETE FROM t")
			mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				INSERT INTO t (v) SELECT zeroblob(?) FROM n`, tc.pages, page-100)
			grown := walSize(t, db)
			if grown < int64(tc.pages)*page {
				t.Fatalf("WAL after the write is %d bytes, want at least %d", grown, int64(tc.pages)*page)
			}
			// Small writes until one starts the log over: until it
			// holds fewer frames than the write took (the commit that
			// starts it over cuts the file, if anything does).
			deadline := time.Now().Add(10 * time.Second)
			for walFrames(t, db) >= tc.pages {
				if time.Now().After(deadline) {
					t.Fatalf("the WAL of %d bytes was never checkpointed", grown)
				}
				time.Sleep(20 * time.Millisecond)
				mustExec(t, db, "UPDATE t SET v = randomblob(8) WHERE id = (SELECT min(id) FROM t)")
			}
			if err := tc.want(walSize(t, db), grown); err != "" {
				t.Errorf("the WAL grew to %d bytes, started over, and was then %d bytes: %s", grown, walSize(t, db), err)
			}
		})
	}
}

// walSize is the size of db's log file.
func walSize(t *testing.T, db *sqlite.DB) int64 {
	t.Helper()
	fi, err := os.Stat(db.Path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// walFrames is how many frames db's log holds. A NOOP checkpoint copies
// nothing and takes no lock, so it always answers; a PASSIVE one answers
// -1 while another checkpoint (the background one) runs.
func walFrames(t *testing.T, db *sqlite.DB) int {
	t.Helper()
	var busy, frames, copied int
	if err := db.Read.QueryRow("PRAGMA wal_checkpoint(NOOP)").Scan(&busy, &frames, &copied); err != nil {
		t.Fatal(err)
	}
	if frames < 0 {
		t.Fatalf("PRAGMA wal_checkpoint(NOOP) reports %d frames", frames)
	}
	return frames
}
