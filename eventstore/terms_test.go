package eventstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/agendahq/agenda/eventstore"
)

func TestTermsAt(t *testing.T) {
	ts := eventstore.Terms{{Index: 5, Term: 2}, {Index: 9, Term: 4}, {Index: 10, Term: 7}}
	for _, c := range []struct {
		index, want uint64
		ok          bool
	}{{1, 0, false}, {4, 0, false}, {5, 2, true}, {8, 2, true}, {9, 4, true}, {10, 7, true}, {99, 7, true}} {
		if got, ok := ts.At(c.index); got != c.want || ok != c.ok {
			t.Errorf("At(%d) = %d, %v; want %d, %v", c.index, got, ok, c.want, c.ok)
		}
	}
	if _, ok := eventstore.Terms(nil).At(3); ok {
		t.Error("an empty trail knows a term")
	}
}

// applyAt applies one batch at index and term, starting the term as the
// state machine does when it changes.
func applyAt(t *testing.T, s *eventstore.Store, index, term uint64, start bool) {
	t.Helper()
	tx := mustBegin(t, s)
	mustAppend(t, tx, streamBatchIDs(t, "", "s", int64(index-1), 1))
	if start {
		if err := tx.StartTerm(index, term); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.SetApplied(index, term); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, tx)
}

func trailOf(t *testing.T, s *eventstore.Store) eventstore.Terms {
	t.Helper()
	tx := mustBegin(t, s)
	defer tx.Rollback()
	ts, err := tx.Terms()
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// The trail is kept across restarts, started again where an older build
// (which keeps none) applied entries of a later term since, and reset by
// a restore.
func TestTermTrail(t *testing.T) {
	s, path := mustOpenStoreFile(t)
	applyAt(t, s, 1, 2, true)
	applyAt(t, s, 2, 2, false)
	applyAt(t, s, 3, 5, true)
	want := eventstore.Terms{{Index: 1, Term: 2}, {Index: 3, Term: 5}}
	if got := trailOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("trail: %v, want %v", got, want)
	}
	s.Close()
	s = mustOpenStoreAt(t, path)
	if got := trailOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("trail after a restart: %v, want %v", got, want)
	}

	// An older build applies entry 4 of term 6 and records no start.
	tx := mustBegin(t, s)
	mustAppend(t, tx, streamBatchIDs(t, "", "s", 3, 1))
	if err := tx.SetApplied(4, 6); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, tx)
	s.Close()
	s = mustOpenStoreAt(t, path)
	if got, want := trailOf(t, s), (eventstore.Terms{{Index: 4, Term: 6}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("trail after an older build applied a later term: %v, want %v", got, want)
	}

	// A snapshot restored into an empty store starts the trail at its
	// last entry.
	dst := mustOpenStore(t)
	if err := dst.Restore(context.Background(), bytes.NewReader(mustSnapshot(t, s))); err != nil {
		t.Fatal(err)
	}
	if got, want := trailOf(t, dst), (eventstore.Terms{{Index: 4, Term: 6}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("trail after a restore: %v, want %v", got, want)
	}
	s.Close()

	// A backup restored founds a new log: no trail.
	restored := filepath.Join(t.TempDir(), "events.db")
	if _, err := eventstore.PrepareRestore(context.Background(), path, restored); err != nil {
		t.Fatal(err)
	}
	if n := countRaw(t, restored, "SELECT COUNT(*) FROM terms"); n != 0 {
		t.Fatalf("a restored backup keeps %d term starts", n)
	}
}

// A store written before the trail existed starts it at its applied entry.
func TestTermTrailOfAnOlderStore(t *testing.T) {
	s, path := mustOpenStoreFile(t)
	applyAt(t, s, 1, 3, true)
	applyAt(t, s, 2, 3, false)
	s.Close()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("DROP TABLE terms"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	s = mustOpenStoreAt(t, path)
	if got, want := trailOf(t, s), (eventstore.Terms{{Index: 2, Term: 3}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("trail of an older store: %v, want %v", got, want)
	}
}

// A snapshot that applied less than the store keeps the store, unproven,
// if its last entry is the store's there; of another term, it is another
// history.
func TestRestoreBehindTheStore(t *testing.T) {
	ctx := context.Background()
	leader, node := mustOpenStore(t), mustOpenStore(t)
	for _, s := range []*eventstore.Store{leader, node} {
		applyAt(t, s, 1, 2, true)
	}
	applyAt(t, node, 2, 2, false)
	before := mustReadAll(t, node)
	behind := mustSnapshot(t, leader)
	own := mustSnapshot(t, node)
	// Each step restores a snapshot into the node's store and leaves it
	// unproven at want (0: proven). The node's own snapshot (Restore, as a
	// recover does) marks nothing; the leader's behind the store (Install)
	// marks it; at a start (CatchUp) a snapshot at the store's applied
	// entry may be the node's own and proves nothing (a fault review saw a
	// restart clear the mark so), while one behind marks, as the leader's
	// does; the leader's at the store's applied entry proves it.
	for _, step := range []struct {
		what    string
		restore func(context.Context, io.Reader) error
		snap    []byte
		want    uint64
	}{
		{"the node's own, behind", node.Restore, behind, 0},
		{"the leader's, behind", node.Install, behind, 2},
		{"at a start, at the store's last entry", node.CatchUp, own, 2},
		{"the leader's, at the store's last entry", node.Install, own, 0},
		{"at a start, behind", node.CatchUp, behind, 2},
		{"the leader's again, at the store's last entry", node.Install, own, 0},
	} {
		if err := step.restore(ctx, bytes.NewReader(step.snap)); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		if u, err := node.Unproven(ctx); err != nil || u != step.want {
			t.Fatalf("unproven after %s: %d, %v; want %d", step.what, u, err, step.want)
		}
	}
	requireSameEvents(t, mustReadAll(t, node), before)

	other := mustOpenStore(t)
	applyAt(t, other, 1, 3, true)
	for _, restore := range []func(context.Context, io.Reader) error{node.Restore, node.Install, node.CatchUp} {
		if err := restore(ctx, bytes.NewReader(mustSnapshot(t, other))); !errors.Is(err, eventstore.ErrDiverged) {
			t.Fatalf("a snapshot whose entry 1 is of another term: %v, want ErrDiverged", err)
		}
	}
	requireSameEvents(t, mustReadAll(t, node), before)
}

// An unproven mark below the applied index is stale (an older build, which
// ignores it, applied past it): dropped at open, where it would halt a
// healthy node.
func TestStaleUnprovenMarkDropped(t *testing.T) {
	ctx := context.Background()
	leader := mustOpenStore(t)
	applyAt(t, leader, 1, 2, true)
	node, path := mustOpenStoreFile(t)
	applyAt(t, node, 1, 2, true)
	applyAt(t, node, 2, 2, false)
	if err := node.Install(ctx, bytes.NewReader(mustSnapshot(t, leader))); err != nil {
		t.Fatal(err)
	}
	node.Close()
	node = mustOpenStoreAt(t, path)
	if u, _ := node.Unproven(ctx); u != 2 {
		t.Fatalf("unproven after a restart: %d, want 2 (kept)", u)
	}
	applyAt(t, node, 3, 2, false) // an older build, past the mark
	node.Close()
	node = mustOpenStoreAt(t, path)
	if u, _ := node.Unproven(ctx); u != 0 {
		t.Fatalf("unproven after an older build applied past it: %d, want 0", u)
	}
}
