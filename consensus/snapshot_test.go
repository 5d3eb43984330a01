package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

func TestSnapshotCompactAndRestart(t *testing.T) {
	dir := t.TempDir()
	raftDir := filepath.Join(dir, "raft")
	cfg := nodeConfig(raftDir)
	cfg.SnapshotThreshold = 64
	cfg.TrailingLogs = 16
	cfg.SnapshotInterval = 100 * time.Millisecond
	store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
	n := startNode(t, cfg, store)

	// 8 writers, 30 batches each: enough entries for the threshold to
	// trigger snapshots while proposals go on.
	const writers, each = 8, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	batches := make([][]events.Batch, writers)
	for w := range writers {
		for i := range each {
			batches[w] = append(batches[w], streamBatch(t, fmt.Sprintf("w%d", w), int64(2*i), 2))
		}
	}
	for w := range writers {
		wg.Go(func() {
			for _, b := range batches[w] {
				if _, err := propose(n, b); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Propose: %v", err)
	}
	if err := n.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatalf("Snapshot: %v", err)
	}
	want := mustReadAll(t, store)
	if len(want) != writers*each*2 {
		t.Fatalf("store holds %d events, want %d", len(want), writers*each*2)
	}
	wantApplied := mustApplied(t, store)

	snaps, err := raft.NewFileSnapshotStore(raftDir, 2, io.Discard)
	if err != nil {
		t.Fatalf("NewFileSnapshotStore: %v", err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		t.Fatalf("snapshots: got %d (%v), want at least one", len(list), err)
	}
	latest := list[0]
	if latest.Index < wantApplied {
		t.Fatalf("latest snapshot at index %d, want at least the store's applied %d", latest.Index, wantApplied)
	}

	// The log was compacted behind the snapshot.
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	first, err := consensus.LogFirstIndex(raftDir)
	if err != nil || first <= 1 {
		t.Fatalf("first log index: got %d (%v), want the log compacted past 1", first, err)
	}
	t.Logf("%d snapshots kept, latest at index %d; log starts at %d", len(list), latest.Index, first)

	// Restart: the compacted log is not replayed onto the store, and
	// nothing is applied twice.
	n = startNode(t, cfg, store)
	requireSameEvents(t, mustReadAll(t, store), want)
	extra := streamBatch(t, "after-restart", 0, 1)
	if c := mustPropose(t, n, extra); c.FirstPosition != int64(len(want)+1) {
		t.Fatalf("batch after restart: got %+v, want first position %d", c, len(want)+1)
	}

	// The snapshot files alone rebuild an identical store.
	_, rc, err := snaps.Open(latest.ID)
	if err != nil {
		t.Fatalf("open snapshot %s: %v", latest.ID, err)
	}
	defer rc.Close()
	fresh := mustOpenStoreAt(t, filepath.Join(t.TempDir(), "fresh.db"))
	if err := fresh.Restore(context.Background(), rc); err != nil {
		t.Fatalf("Restore from %s: %v", latest.ID, err)
	}
	requireSameEvents(t, mustReadAll(t, fresh), want)
	if got := mustApplied(t, fresh); got != wantApplied {
		t.Fatalf("restored applied index: got %d, want %d", got, wantApplied)
	}
}

func TestSnapshotFilesRestoreIntoFreshNode(t *testing.T) {
	// A second node dir seeded only with the first node's snapshot (as a
	// follower receiving InstallSnapshot) ends with the same events.
	n := mustStartNode(t)
	var batches []events.Batch
	for i := range 20 {
		b := streamBatch(t, fmt.Sprintf("s%d", i%4), int64(i/4), 1)
		mustPropose(t, n, b)
		batches = append(batches, b)
	}
	if err := n.Snapshot(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	snaps, err := raft.NewFileSnapshotStore(n.cfg.Dir, 2, io.Discard)
	if err != nil {
		t.Fatalf("NewFileSnapshotStore: %v", err)
	}
	list, err := snaps.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("snapshots: got %d (%v), want 1", len(list), err)
	}

	// Restore twice: the second time is a no-op.
	fresh := mustOpenStoreAt(t, filepath.Join(t.TempDir(), "fresh.db"))
	for range 2 {
		_, rc, err := snaps.Open(list[0].ID)
		if err != nil {
			t.Fatalf("open snapshot: %v", err)
		}
		err = fresh.Restore(context.Background(), rc)
		rc.Close()
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
	}
	requireSameEvents(t, mustReadAll(t, fresh), mustReadAll(t, n.store))
	requireLog(t, fresh, batches)
}

// With the default SnapshotInterval, a log past its threshold is compacted
// within seconds, not the minute it once took: under a steady load every
// second of delay is that many more entries in the log file, all of them
// resident once compaction has walked them.
func TestLogIsCompactedSoonAfterItsThreshold(t *testing.T) {
	dir := t.TempDir()
	cfg := nodeConfig(filepath.Join(dir, "raft"))
	cfg.SnapshotThreshold = 128
	cfg.TrailingLogs = 32
	n := startNode(t, cfg, mustOpenStoreAt(t, filepath.Join(dir, "events.db")))
	var most uint64
	for i := range 400 {
		mustPropose(t, n, streamBatch(t, fmt.Sprintf("s%d", i), 0, 1))
		most = max(most, n.LogSpan())
	}
	if most < cfg.SnapshotThreshold {
		t.Fatalf("log held at most %d entries, want it past its threshold of %d", most, cfg.SnapshotThreshold)
	}
	// Once a snapshot lies within the threshold of the head, no further
	// one is due, and compaction has left fewer than TrailingLogs +
	// SnapshotThreshold entries (however the writes and the checks
	// interleaved). Raft checks every 1–2 s by default; 10 s leaves room
	// for a slow machine and fails the 30–60 s the check once took.
	bound := cfg.TrailingLogs + cfg.SnapshotThreshold
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := n.LogSpan()
		if got < bound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log still spans %d entries 10 s after passing its threshold of %d, want fewer than %d",
				got, cfg.SnapshotThreshold, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A node whose log was compacted behind snapshots it lost (its snapshots
// directory deleted, its log kept) does not start, and says what to do:
// hashicorp/raft panicked at every start ("log not found").
func TestOpenRefusesALogCompactedBehindLostSnapshots(t *testing.T) {
	dir := t.TempDir()
	raftDir := filepath.Join(dir, "raft")
	cfg := nodeConfig(raftDir)
	cfg.TrailingLogs = 4
	store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
	n := startNode(t, cfg, store)
	for i := range 20 {
		mustPropose(t, n, streamBatch(t, "s", int64(i), 1))
	}
	if err := n.Snapshot(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if first, err := consensus.LogFirstIndex(raftDir); err != nil || first <= 1 {
		t.Fatalf("first log index: got %d (%v), want the log compacted past 1", first, err)
	}
	if err := os.RemoveAll(filepath.Join(raftDir, "snapshots")); err != nil {
		t.Fatal(err)
	}
	_, err := consensus.Open(cfg, store)
	if !errors.Is(err, consensus.ErrLostSnapshots) || !strings.Contains(err.Error(), "Move "+raftDir+" aside") {
		t.Fatalf("Open after losing the snapshots: %v, want ErrLostSnapshots saying what to do", err)
	}
}
