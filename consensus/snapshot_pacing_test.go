package consensus_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
)

// With the default threshold, snapshots are spaced in proportion to the
// history (a sixteenth of the last one's index, never below the floor), so
// that the copy of the history each snapshot makes costs every write a
// bounded share; a restarted node takes up its spacing where it was; and a
// threshold the operator set stays as set.
func TestSnapshotsArePacedWithTheHistory(t *testing.T) {
	const floor = 8
	dir := t.TempDir()
	cfg := nodeConfig(filepath.Join(dir, "raft"))
	consensus.SetSnapshotFloor(&cfg, floor)
	cfg.SnapshotInterval = 20 * time.Millisecond
	cfg.TrailingLogs = 4
	n := startNode(t, cfg, mustOpenStoreAt(t, filepath.Join(dir, "events.db")))
	if got := n.SnapshotThreshold(); got != floor {
		t.Fatalf("a new node's threshold is %d, want the floor, %d", got, floor)
	}
	for i := range 600 {
		mustPropose(t, n, streamBatch(t, fmt.Sprintf("s%d", i), 0, 1))
	}
	waitPaced(t, n, floor, 16*floor)
	// Snapshots grew apart: past 16 × floor, each waits for a sixteenth of
	// the index before it.
	if got := n.SnapshotThreshold(); got <= floor {
		t.Fatalf("threshold %d after a snapshot at %d, want it past the floor", got, n.LastSnapshotIndex())
	}

	// Restarted, with no snapshot due while the test looks (an interval
	// of an hour): the threshold is the one Open took from the latest
	// snapshot, not the floor.
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	idle := cfg
	idle.SnapshotInterval = time.Hour
	n = startNode(t, idle, n.store)
	if got, want := n.SnapshotThreshold(), n.LastSnapshotIndex()/16; got != want {
		t.Fatalf("restarted with threshold %d, want %d (the last snapshot's index %d / 16)", got, want, n.LastSnapshotIndex())
	}
	n.Close()

	// Fixed by the operator: left alone, however long the history.
	fixed := cfg
	fixed.SnapshotThreshold = 16
	n = startNode(t, fixed, n.store)
	for i := range 200 {
		mustPropose(t, n, streamBatch(t, fmt.Sprintf("f%d", i), 0, 1))
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.LastSnapshotIndex() < 700 {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot past index 700 within 10 s (last at %d)", n.LastSnapshotIndex())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := n.SnapshotThreshold(); got != 16 {
		t.Fatalf("a fixed threshold of 16 became %d", got)
	}
}

// waitPaced waits until the node has a snapshot past index past and its
// threshold is the paced one for that snapshot. The hook paces from the
// store's applied index, which may trail Raft's snapshot index by a
// barrier or two: one either way is the same pacing.
func waitPaced(t *testing.T, n *testNode, floor, past uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		last := n.LastSnapshotIndex()
		want := max(floor, last/16)
		got := n.SnapshotThreshold()
		if last > past && got+1 >= want && got <= want+1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: last snapshot at %d, threshold %d, want a snapshot past %d and the threshold %d", last, got, past, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
