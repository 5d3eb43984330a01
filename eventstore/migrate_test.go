package eventstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// testdata/schema1.db is a schema version 1 store written by the build
// before schema 2 (through Restore, so that it holds fixtures of every
// event type whatever their streams' lifecycles), and schema1.json what
// that build's Read returned from it. Its last five events have the IDs,
// streams and times that schema 2 encodes one way or the other: canonical
// UUIDs alone and after a prefix, uppercase and braced UUIDs, a UUID with a
// character after it, a non-ASCII prefix, times before and after the range
// of int64 nanoseconds.
func schema1Fixture(t *testing.T) (path string, want storeState) {
	t.Helper()
	return fixture(t, "testdata/schema1.db")
}

// testdata/schema2.db is schema1.db as the build before schema 3 migrated
// it (it holds the same events, in schema 2).
func schema2Fixture(t *testing.T) (path string, want storeState) {
	t.Helper()
	return fixture(t, "testdata/schema2.db")
}

// fixture copies the store file to a temp dir and returns where, and the
// state schema1.json says it holds.
func fixture(t *testing.T, file string) (path string, want storeState) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "events.db")
	db, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("testdata/schema1.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &want.Events); err != nil {
		t.Fatal(err)
	}
	want.Head, want.Index, want.Term = int64(len(want.Events)), 42, 3
	want.Streams = map[string]int64{}
	for i, e := range want.Events {
		// The file is indented; the store holds data compact.
		var b bytes.Buffer
		if err := json.Compact(&b, e.Data); err != nil {
			t.Fatal(err)
		}
		want.Events[i].Data = b.Bytes()
		want.Streams[e.Stream] = max(want.Streams[e.Stream], e.Version)
	}
	return path, want
}

func TestOpenMigratesSchema1(t *testing.T) { testOpenMigrates(t, schema1Fixture) }

func TestOpenMigratesSchema2(t *testing.T) { testOpenMigrates(t, schema2Fixture) }

func testOpenMigrates(t *testing.T, fixture func(*testing.T) (string, storeState)) {
	path, want := fixture(t)
	s := mustOpenStoreAt(t, path)
	requireState(t, s, want)
	if got := userVersion(t, path); got != 3 {
		t.Errorf("schema version after Open: got %d, want 3", got)
	}
	requireFreshSchema(t, path)
	// The vacuum's pages are not left in the WAL.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("WAL after the migration: %d bytes, want 0", fi.Size())
	}

	// Lookups find the migrated events by their encoded IDs and streams.
	for _, e := range want.Events {
		dup := events.Batch{Expect: []events.Expectation{expect(e.Stream, want.Streams[e.Stream])},
			Events: []events.Envelope{newEvent(t, e.ID, e.Stream, want.Streams[e.Stream]+1)}}
		var de *events.DuplicateEventError
		if err := appendAndCommit(t, s, dup); !errors.As(err, &de) || de.Position != e.Position {
			t.Errorf("re-appending %s: got %v, want a duplicate at %d", e.ID, err, e.Position)
		}
	}
	for stream, v := range want.Streams {
		got := mustReadStream(t, s, stream)
		if int64(len(got)) != v {
			t.Errorf("ReadStream(%s): got %d events, want %d", stream, len(got), v)
		}
	}
	// And it goes on appending.
	stream := "notifications-7c9e6679-7425-40de-944b-e07fc1f90ae7"
	if err := appendAndCommit(t, s, streamBatch(t, stream, want.Streams[stream], 2)); err != nil {
		t.Fatalf("append after migration: %v", err)
	}
	if got := mustReadStream(t, s, stream); int64(len(got)) != want.Streams[stream]+2 {
		t.Errorf("stream after appending: got %d events, want %d", len(got), want.Streams[stream]+2)
	}

	// Opening again leaves it alone.
	s.Close()
	s = mustOpenStoreAt(t, path)
	if got := s.Head(); got != want.Head+2 {
		t.Errorf("head after reopening: got %d, want %d", got, want.Head+2)
	}
}

// Stores created before events_no_replace was added (within schema 1)
// lack it; they migrate all the same, and gain it.
func TestOpenMigratesSchema1WithoutReplaceTrigger(t *testing.T) {
	path, want := schema1Fixture(t)
	execRaw(t, path, "DROP TRIGGER events_no_replace")
	requireState(t, mustOpenStoreAt(t, path), want)
	var n int
	if err := openRaw(t, path).QueryRow("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger'").Scan(&n); err != nil || n != 3 {
		t.Errorf("triggers after the migration: %d, %v; want 3", n, err)
	}
}

// A migration whose vacuum was cut short (killed, out of disk) is compacted
// by the next Open: the copy had committed with a marker saying so.
func TestOpenFinishesAnInterruptedCompaction(t *testing.T) {
	path, want := schema1Fixture(t)
	s := mustOpenStoreAt(t, path)
	s.Close()
	execRaw(t, path, "INSERT INTO meta (key, value) VALUES ('compact_pending', 1)",
		// Free pages, as the dropped schema 1 tables leave.
		"CREATE TABLE junk (b BLOB)", "INSERT INTO junk VALUES (zeroblob(1000000))", "DROP TABLE junk")
	if got := freePages(t, path); got == 0 {
		t.Fatal("no free pages to compact")
	}
	requireState(t, mustOpenStoreAt(t, path), want)
	if got := freePages(t, path); got != 0 {
		t.Errorf("free pages after Open: %d, want 0", got)
	}
	var marks int
	if err := openRaw(t, path).QueryRow("SELECT COUNT(*) FROM meta WHERE key = 'compact_pending'").Scan(&marks); err != nil || marks != 0 {
		t.Errorf("compact_pending rows after Open: %d, %v; want 0", marks, err)
	}
}

// TestSchema2Encoding checks that the encodings codec.go describes are the
// ones stored, so that the savings the README reports are real: packed
// where a value allows it, text as it was where not.
func TestSchema2Encoding(t *testing.T) {
	path, _ := schema1Fixture(t)
	mustOpenStoreAt(t, path)
	raw := openRaw(t, path)
	tests := []struct {
		query, want string
	}{
		{"SELECT typeof(id) || typeof(stream) || typeof(actor) || typeof(correlation_id) || typeof(time) FROM events WHERE position = 31", "blobblobblobblobinteger"},
		// An uppercase UUID, an empty actor, a correlation ID that is no UUID.
		{"SELECT typeof(id) || typeof(stream) || typeof(actor) || typeof(correlation_id) FROM events WHERE position = 32", "texttexttexttext"},
		// Braces; a UUID with a character after it; year 2300.
		{"SELECT typeof(id) || typeof(correlation_id) || typeof(time) FROM events WHERE position = 33", "texttexttext"},
		{"SELECT typeof(stream) || length(stream) FROM events WHERE position = 33", "blob16"},
		// A non-ASCII prefix and a lone hyphen before the UUID; year 1600.
		{"SELECT typeof(actor) || length(actor) || typeof(correlation_id) || length(correlation_id) || typeof(time) FROM events WHERE position = 34", "blob26blob17text"},
		// A 'g' is not a hex digit.
		{"SELECT typeof(id) FROM events WHERE position = 35", "text"},
		{"SELECT typeof(stream) || length(stream) FROM streams WHERE stream = CAST('username-zoe.martin' AS TEXT)", "text19"},
		// Every fixture's data compresses against the dictionary; the
		// last five, a deletion's lone random UUID, would not shrink and
		// stay JSON.
		{"SELECT COUNT(*) FROM events WHERE substr(data, 1, 4) = x'28b52ffd' AND position <= 30", "30"},
		{"SELECT group_concat(substr(data, 1, 1), '') FROM events WHERE position > 30", "{{{{{"},
	}
	for _, tt := range tests {
		var got string
		if err := raw.QueryRow(tt.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		if got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.query, got, tt.want)
		}
	}
}

func TestPrepareRestoreMigratesOlderBackups(t *testing.T) {
	for name, fixture := range map[string]func(*testing.T) (string, storeState){"schema 1": schema1Fixture, "schema 2": schema2Fixture} {
		t.Run(name, func(t *testing.T) {
			path, want := fixture(t)
			dst := filepath.Join(t.TempDir(), "restored", "events.db")
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				t.Fatal(err)
			}
			info, err := eventstore.PrepareRestore(context.Background(), path, dst)
			if err != nil {
				t.Fatalf("PrepareRestore of a %s backup: %v", name, err)
			}
			if info.Events != want.Head || info.AppliedIndex != 0 {
				t.Errorf("restored: got %+v, want %d events and applied index 0", info, want.Head)
			}
			if got := userVersion(t, dst); got != 3 {
				t.Errorf("restored schema version: got %d, want 3", got)
			}
			requireFreshSchema(t, dst)
			want.Index, want.Term = 0, 0
			requireState(t, mustOpenStoreAt(t, dst), want)
		})
	}
}

// A schema 2 store whose migration from schema 1 was stopped during its
// vacuum still holds the mark that says so: it migrates all the same, and
// is compacted.
func TestOpenMigratesSchema2WithCompactionPending(t *testing.T) {
	path, want := schema2Fixture(t)
	execRaw(t, path, "INSERT INTO meta (key, value) VALUES ('compact_pending', 1)")
	requireState(t, mustOpenStoreAt(t, path), want)
	requireFreshSchema(t, path)
	var marks int
	if err := openRaw(t, path).QueryRow("SELECT COUNT(*) FROM meta WHERE key = 'compact_pending'").Scan(&marks); err != nil || marks != 0 {
		t.Errorf("compact_pending rows after Open: %d, %v; want 0", marks, err)
	}
}

// requireFreshSchema fails unless the store at path has the tables,
// indexes and triggers of a store this build creates, as it creates them.
func requireFreshSchema(t *testing.T, path string) {
	t.Helper()
	_, fresh := mustOpenStoreFile(t)
	if got, want := schemaOf(t, path), schemaOf(t, fresh); !slices.Equal(got, want) {
		t.Errorf("schema of %s:\n%s\nwant, as a new store's:\n%s", path, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// schemaOf lists what sqlite_schema holds of the database at path.
func schemaOf(t *testing.T, path string) []string {
	t.Helper()
	rows, err := openRaw(t, path).Query("SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_schema ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, name, table, text string
		if err := rows.Scan(&typ, &name, &table, &text); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{typ, name, table, text}, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// execRaw runs statements on the database at path, outside the store, and
// closes it: a fixture changed as an older build or a crash left it.
func execRaw(t *testing.T, path string, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range stmts {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func userVersion(t *testing.T, path string) int { return pragma(t, path, "user_version") }

func freePages(t *testing.T, path string) int { return pragma(t, path, "freelist_count") }

// pragma reads an integer PRAGMA of the database at path.
func pragma(t *testing.T, path, name string) int {
	t.Helper()
	var v int
	if err := openRaw(t, path).QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}
