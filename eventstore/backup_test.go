package eventstore_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// A backup taken while the store is open holds exactly what was committed
// before it; a restore from it keeps every event and clears the applied Raft
// index, so that a new Raft log's entries are applied after the history.
func TestBackupAndPrepareRestore(t *testing.T) {
	ctx := context.Background()
	s, path := mustOpenStoreFile(t)
	applyNewStreams(t, s, 20, 100)
	want := mustReadAll(t, s)
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	info, err := eventstore.Backup(ctx, path, backup)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if info.Events != 20 || info.Head != 20 || info.AppliedIndex != 120 {
		t.Fatalf("backup info = %+v, want 20 events, head 20, applied 120", info)
	}
	// Later writes are not in the backup.
	mustApply(t, s, 121, events.Batch{Expect: []events.Expectation{{Stream: "s-e21"}}, Events: []events.Envelope{newEvent(t, "e21", "s-e21", 1)}})
	if _, err := eventstore.Backup(ctx, path, backup); err == nil {
		t.Fatal("Backup over an existing file succeeded")
	}

	restored := filepath.Join(dir, "restored", "events.db")
	os.MkdirAll(filepath.Dir(restored), 0o700)
	info, err = eventstore.PrepareRestore(ctx, backup, restored)
	if err != nil {
		t.Fatalf("PrepareRestore: %v", err)
	}
	if info.Events != 20 || info.AppliedIndex != 0 {
		t.Fatalf("restored info = %+v, want 20 events and applied index 0", info)
	}
	r := mustOpenStoreAt(t, restored)
	if idx, term, err := r.Applied(ctx); err != nil || idx != 0 || term != 0 {
		t.Fatalf("restored Applied = %d, %d, %v; want 0, 0", idx, term, err)
	}
	if got := mustReadAll(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored events differ from the backed-up ones:\n got %d events\nwant %d", len(got), len(want))
	}
}

func TestBackupRefusesWhatIsNotAnEventStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("this is not sqlite at all, not even close to it, no header"), 0o600)
	for name, src := range map[string]string{"missing": filepath.Join(dir, "none.db"), "junk": junk} {
		if _, err := eventstore.Backup(ctx, src, filepath.Join(dir, name+"-out.db")); !errors.Is(err, eventstore.ErrNotEventStore) {
			t.Errorf("%s: Backup error = %v, want ErrNotEventStore", name, err)
		}
		if _, err := eventstore.PrepareRestore(ctx, src, filepath.Join(dir, name+"-restored.db")); !errors.Is(err, eventstore.ErrNotEventStore) {
			t.Errorf("%s: PrepareRestore error = %v, want ErrNotEventStore", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
			t.Errorf("%s: a missing source was created", name)
		}
	}
}

// A backup whose streams do not read as the state machine writes them (a
// version repeated, or the streams table disagreeing with the events) is
// refused by a restore: it skips the state machine, and no index refuses a
// repeated version.
func TestPrepareRestoreRefusesBrokenStreams(t *testing.T) {
	ctx := context.Background()
	for name, tamper := range map[string][]string{
		"a version repeated": {"DROP TRIGGER events_no_update",
			"UPDATE events SET stream = (SELECT stream FROM events WHERE position = 1) WHERE position = 2"},
		"versions out of order": {"DROP TRIGGER events_no_update",
			"UPDATE events SET version = 3 - version WHERE stream = (SELECT stream FROM events WHERE position = 3)"},
		"a stream's version wrong in the streams table": {"UPDATE streams SET version = 7 WHERE stream = (SELECT stream FROM events WHERE position = 1)"},
		"a stream missing from the streams table":       {"DELETE FROM streams WHERE stream = (SELECT stream FROM events WHERE position = 1)"},
	} {
		t.Run(name, func(t *testing.T) {
			s, path := mustOpenStoreFile(t)
			applyNewStreams(t, s, 2, 100)
			mustApply(t, s, 103, events.Batch{Expect: []events.Expectation{{Stream: "s-two"}}, Events: []events.Envelope{newEvent(t, "e03", "s-two", 1), newEvent(t, "e04", "s-two", 2)}})
			dir := t.TempDir()
			backup := filepath.Join(dir, "backup.db")
			if _, err := eventstore.Backup(ctx, path, backup); err != nil {
				t.Fatal(err)
			}
			restored := filepath.Join(dir, "restored.db")
			if _, err := eventstore.PrepareRestore(ctx, backup, restored); err != nil {
				t.Fatalf("PrepareRestore of the untouched backup: %v", err)
			}
			// As a backup of an older build, which records no digest
			// (TestPrepareRestoreRefusesEditedEvents has one).
			execRaw(t, backup, append(tamper, "DELETE FROM meta WHERE key = 'backup_digest'")...)
			again := filepath.Join(dir, "again.db")
			if _, err := eventstore.PrepareRestore(ctx, backup, again); !errors.Is(err, eventstore.ErrNotEventStore) {
				t.Fatalf("PrepareRestore error = %v, want ErrNotEventStore", err)
			}
			if _, err := os.Stat(again); err == nil {
				t.Error("a refused restore left its file")
			}
		})
	}
}

// A backup records a digest of its events when written, and a restore
// refuses one whose events no longer match it: a review flipped a byte of
// an event's compressed data, which no structural check reads, and the
// restored node served the damaged appointment as someone else's. A backup
// without a digest (an older build's) is restored, saying so; a restored
// store keeps no digest, being no backup.
func TestPrepareRestoreRefusesEditedEvents(t *testing.T) {
	ctx := context.Background()
	s, path := mustOpenStoreFile(t)
	applyNewStreams(t, s, 5, 100)
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	if _, err := eventstore.Backup(ctx, path, backup); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(dir, "restored.db")
	info, err := eventstore.PrepareRestore(ctx, backup, restored)
	if err != nil || !info.DigestChecked {
		t.Fatalf("PrepareRestore of the untouched backup = %+v, %v; want its digest checked", info, err)
	}
	if n := countRaw(t, restored, "SELECT COUNT(*) FROM meta WHERE key = 'backup_digest'"); n != 0 {
		t.Errorf("the restored store keeps the backup's digest")
	}

	for name, tamper := range map[string]string{
		"a byte of an event's data": "UPDATE events SET data = CAST(substr(data, 1, 10) || X'FF' || substr(data, 12) AS BLOB) WHERE position = 3",
		"an event's actor":          "UPDATE events SET actor = (SELECT actor FROM events WHERE position = 1) || X'00' WHERE position = 4",
		"an event's time":           "UPDATE events SET time = time + 1 WHERE position = 5",
	} {
		t.Run(name, func(t *testing.T) {
			edited := filepath.Join(t.TempDir(), "edited.db")
			if err := copyPlain(backup, edited); err != nil {
				t.Fatal(err)
			}
			execRaw(t, edited, "DROP TRIGGER events_no_update", tamper)
			out := filepath.Join(t.TempDir(), "out.db")
			if _, err := eventstore.PrepareRestore(ctx, edited, out); !errors.Is(err, eventstore.ErrNotEventStore) {
				t.Fatalf("PrepareRestore of an edited backup: %v, want ErrNotEventStore", err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a refused restore left its file")
			}
		})
	}

	// A store put in place by copying a backup file holds its digest; a
	// backup of it records its own (a review found it refused).
	again := filepath.Join(dir, "backup-of-a-backup.db")
	if _, err := eventstore.Backup(ctx, backup, again); err != nil {
		t.Fatalf("Backup of a file holding a digest: %v", err)
	}
	if info, err := eventstore.PrepareRestore(ctx, again, filepath.Join(dir, "from-again.db")); err != nil || !info.DigestChecked {
		t.Fatalf("PrepareRestore of it = %+v, %v; want its digest checked", info, err)
	}

	older := filepath.Join(dir, "older.db")
	if err := copyPlain(backup, older); err != nil {
		t.Fatal(err)
	}
	execRaw(t, older, "DELETE FROM meta WHERE key = 'backup_digest'")
	info, err = eventstore.PrepareRestore(ctx, older, filepath.Join(dir, "from-older.db"))
	if err != nil || info.DigestChecked || info.Events != 5 {
		t.Fatalf("PrepareRestore of a backup without a digest = %+v, %v; want 5 events, no digest checked", info, err)
	}
}

// copyPlain copies the file src to the new file dst.
func copyPlain(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// countRaw runs a query of one integer on the database at path.
func countRaw(t *testing.T, path, query string) int64 {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int64
	if err := raw.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
