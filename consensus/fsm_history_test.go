package consensus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/eventstore"
)

// The state machine is handed entries it applied before again (replays
// after a restart, or the leader's entries after a snapshot older than the
// store): these tests give it another history's in their place, as the
// leader of survivors recovered with shorter logs does.

// termLog is commandLog at term.
func termLog(t *testing.T, index, term uint64, stream string, from int64) *raft.Log {
	t.Helper()
	l := commandLog(t, index, fsmBatch(t, stream, from, 1))
	l.Term = term
	return l
}

// snapshotOf is a snapshot of f's store, as the leader would send it.
func snapshotOf(t *testing.T, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

func restore(f *fsm, snap []byte) error {
	return f.Restore(io.NopCloser(bytes.NewReader(snap)))
}

// An entry replayed below the store's last, of another term than the one
// the store applied there, halts: only the last entry's term was checked,
// so that a leader whose entry at that index never reaches the state
// machine (a no-op) had the rest of its history skipped.
func TestFSMHaltsOnAnotherTermBelowItsLast(t *testing.T) {
	f := mustOpenFSM(t)
	f.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0), termLog(t, 2, 2, "a", 1)})
	f.ApplyBatch([]*raft.Log{termLog(t, 3, 3, "a", 2), termLog(t, 4, 3, "a", 3)})
	before := storeEvents(t, f)
	// The same history replays quietly, whichever entries of it come.
	for _, replay := range [][]*raft.Log{
		{termLog(t, 1, 2, "a", 0)},
		{termLog(t, 2, 2, "a", 1), termLog(t, 3, 3, "a", 2)},
		{termLog(t, 4, 3, "a", 3)},
	} {
		f.ApplyBatch(replay)
	}
	// Another: entry 3 of term 4, its entry 4 a no-op the FSM never sees.
	requirePanic(t, "history does not hold", func() {
		f.ApplyBatch([]*raft.Log{termLog(t, 3, 4, "z", 0), termLog(t, 5, 4, "z", 1)})
	})
	if got := storeEvents(t, f); !reflect.DeepEqual(got, before) {
		t.Fatalf("events after the halt: got %d, want the %d before", len(got), len(before))
	}
}

// The trail survives a restart: a replay checked after reopening the store.
func TestFSMTermTrailAcrossARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	f := openFSMAt(t, path)
	f.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0)})
	f.ApplyBatch([]*raft.Log{termLog(t, 2, 5, "a", 1), termLog(t, 3, 5, "a", 2)})
	f.store.Close()
	f = openFSMAt(t, path)
	requirePanic(t, "applied is at term 5", func() { f.ApplyBatch([]*raft.Log{termLog(t, 2, 4, "z", 0)}) })
}

func openFSMAt(t *testing.T, path string) *fsm {
	t.Helper()
	s, err := eventstore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fsm{store: s, logger: mustOpenFSM(t).logger}
	if err := f.load(); err != nil {
		t.Fatal(err)
	}
	return f
}

// leaderAndNode are two state machines that applied the same entries 1
// and 2 (term 2); the node also applied entry 3, which the leader's
// history does not hold. snap is the leader's snapshot (applied 2).
func leaderAndNode(t *testing.T) (leader, node *fsm, snap []byte) {
	t.Helper()
	leader, node = mustOpenFSM(t), mustOpenFSM(t)
	common := []*raft.Log{termLog(t, 1, 2, "a", 0), termLog(t, 2, 2, "a", 1)}
	leader.ApplyBatch(common)
	node.ApplyBatch(common)
	node.ApplyBatch([]*raft.Log{termLog(t, 3, 2, "mine", 0)})
	return leader, node, snapshotOf(t, leader)
}

// A snapshot that applied less than the store leaves the store as it is,
// but unproven: the next entries the leader sends must show the store's
// last one before anything past it is applied.
func TestFSMSnapshotBehindTheStore(t *testing.T) {
	t.Run("covering the store's last entry", func(t *testing.T) {
		// The leader's snapshot was taken at a later index (its entry 3 a
		// no-op) and applied 2: raft hands over entries from 4 on.
		_, node, snap := leaderAndNode(t)
		mustRestore(t, node, snap)
		before := storeEvents(t, node)
		requirePanic(t, "do not hold entry 3", func() { node.ApplyBatch([]*raft.Log{termLog(t, 4, 3, "theirs", 0)}) })
		if got := storeEvents(t, node); !reflect.DeepEqual(got, before) {
			t.Fatalf("events after the halt: got %d, want the %d before", len(got), len(before))
		}
	})
	t.Run("its entry there another", func(t *testing.T) {
		_, node, snap := leaderAndNode(t)
		mustRestore(t, node, snap)
		requirePanic(t, "applied is at term 2", func() {
			node.ApplyBatch([]*raft.Log{termLog(t, 3, 3, "theirs", 0), termLog(t, 4, 3, "theirs", 1)})
		})
	})
	t.Run("its entry there one the state machine never sees", func(t *testing.T) {
		// A snapshot that applied 1; then the leader's 2 (the node's too),
		// its 3 a no-op, not handed over, and 4.
		_, node, _ := leaderAndNode(t)
		early := mustOpenFSM(t)
		early.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0)})
		mustRestore(t, node, snapshotOf(t, early))
		requirePanic(t, "do not hold entry 3", func() {
			node.ApplyBatch([]*raft.Log{termLog(t, 2, 2, "a", 1), termLog(t, 4, 3, "theirs", 0)})
		})
	})
	t.Run("unproven across a restart", func(t *testing.T) {
		leader := mustOpenFSM(t)
		leader.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0)})
		path := filepath.Join(t.TempDir(), "events.db")
		node := openFSMAt(t, path)
		node.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0), termLog(t, 2, 2, "mine", 0)})
		mustRestore(t, node, snapshotOf(t, leader))
		node.store.Close()
		node = openFSMAt(t, path)
		requirePanic(t, "do not hold entry 2", func() { node.ApplyBatch([]*raft.Log{termLog(t, 3, 3, "theirs", 0)}) })
	})
	t.Run("proven by the leader's entries", func(t *testing.T) {
		// The same history: the leader had entry 3 too, and sends it.
		leader, node, snap := leaderAndNode(t)
		mustRestore(t, node, snap)
		leader.ApplyBatch([]*raft.Log{termLog(t, 3, 2, "mine", 0)})
		out := node.ApplyBatch([]*raft.Log{termLog(t, 3, 2, "mine", 0), termLog(t, 4, 3, "b", 0)})
		if r := resultAt(t, out, 1); r.Err != nil {
			t.Fatalf("entry 4 after the store was proven: %v", r.Err)
		}
		if u, err := node.store.Unproven(context.Background()); err != nil || u != 0 || node.unproven.Load() != 0 {
			t.Fatalf("unproven after the proof: %d (%v), in memory %d; want 0", u, err, node.unproven.Load())
		}
		leader.ApplyBatch([]*raft.Log{termLog(t, 4, 3, "b", 0)})
		if !reflect.DeepEqual(storeEvents(t, node), storeEvents(t, leader)) {
			t.Fatal("stores differ after the same entries")
		}
		// A later batch applies as usual.
		if r := resultAt(t, node.ApplyBatch([]*raft.Log{termLog(t, 5, 3, "b", 1)}), 0); r.Err != nil {
			t.Fatalf("entry 5: %v", r.Err)
		}
	})
	t.Run("proven in a batch of its own", func(t *testing.T) {
		_, node, snap := leaderAndNode(t)
		mustRestore(t, node, snap)
		node.ApplyBatch([]*raft.Log{termLog(t, 3, 2, "mine", 0)})
		if node.unproven.Load() != 0 {
			t.Fatal("still unproven after the leader sent the store's last entry")
		}
		if r := resultAt(t, node.ApplyBatch([]*raft.Log{termLog(t, 4, 3, "b", 0)}), 0); r.Err != nil {
			t.Fatalf("entry 4: %v", r.Err)
		}
	})
}

// A snapshot of another history halts the node rather than fail the
// install, which raft retried every 10 s while the node sat unready.
func TestFSMRestoreOfAnotherHistoryHalts(t *testing.T) {
	t.Run("applied more", func(t *testing.T) {
		leader, node := mustOpenFSM(t), mustOpenFSM(t)
		leader.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0), termLog(t, 2, 3, "theirs", 0), termLog(t, 3, 3, "theirs", 1)})
		node.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0), termLog(t, 2, 2, "mine", 0)})
		requirePanic(t, "history does not hold", func() { restore(node, snapshotOf(t, leader)) })
	})
	t.Run("applied less, of another term", func(t *testing.T) {
		leader, node := mustOpenFSM(t), mustOpenFSM(t)
		leader.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0), termLog(t, 2, 3, "theirs", 0)})
		node.ApplyBatch([]*raft.Log{termLog(t, 1, 2, "a", 0), termLog(t, 2, 2, "mine", 0), termLog(t, 3, 2, "mine", 1)})
		requirePanic(t, "history does not hold", func() { restore(node, snapshotOf(t, leader)) })
	})
	t.Run("a storage failure is an error", func(t *testing.T) {
		node := mustOpenFSM(t)
		err := restore(node, []byte("not a snapshot"))
		if err == nil || errors.Is(err, eventstore.ErrDiverged) {
			t.Fatalf("Restore of garbage: %v, want an error, not a halt", err)
		}
	})
}

func mustRestore(t *testing.T, f *fsm, snap []byte) {
	t.Helper()
	if err := restore(f, snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
}
