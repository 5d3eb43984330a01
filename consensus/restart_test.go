package consensus_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

// reopen closes n and opens a node with the same directory and store. With
// samePort it listens on the address it had, otherwise on a new port.
func reopen(t *testing.T, n *testNode, samePort bool) *testNode {
	t.Helper()
	addr := n.RaftAddr()
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cfg := n.cfg
	if samePort {
		cfg.BindAddr = addr
	}
	return startNode(t, cfg, n.store)
}

func TestRestartOnAnotherPort(t *testing.T) {
	// The single-node configuration in the log names the old address; the
	// node still elects itself, since its vote for itself never goes
	// through the transport.
	n := mustStartNode(t)
	b := streamBatch(t, "a", 0, 1)
	mustPropose(t, n, b)
	old := n.RaftAddr()

	n = reopen(t, n, false)
	if n.RaftAddr() == old {
		t.Logf("restarted on the same address %s by chance", old)
	}
	if id, addr := n.Leader(); id != "node-1" || addr != n.RaftAddr() {
		t.Fatalf("leader after restart: got (%s, %s), want (node-1, %s)", id, addr, n.RaftAddr())
	}
	b2 := streamBatch(t, "a", 1, 1)
	mustPropose(t, n, b2)
	requireLog(t, n.store, []events.Batch{b, b2})
}

func TestExactlyOnceAcrossRestart(t *testing.T) {
	for _, samePort := range []bool{true, false} {
		t.Run(fmt.Sprintf("same port %v", samePort), func(t *testing.T) {
			n := mustStartNode(t)
			var batches []events.Batch
			for i := range 10 {
				b := streamBatch(t, fmt.Sprintf("s%d", i%3), int64(i/3), 1)
				mustPropose(t, n, b)
				batches = append(batches, b)
			}
			appliedBefore := mustApplied(t, n.store)

			for restart := range 2 {
				n = reopen(t, n, samePort)
				// Raft replays its log into the FSM, which skips what the
				// store already has.
				requireLog(t, n.store, batches)
				for i := range 5 {
					stream := fmt.Sprintf("r%d", restart)
					b := streamBatch(t, stream, int64(i), 1)
					mustPropose(t, n, b)
					batches = append(batches, b)
				}
				requireLog(t, n.store, batches)
			}
			if got := mustApplied(t, n.store); got <= appliedBefore {
				t.Fatalf("applied index: got %d, want past %d", got, appliedBefore)
			}
			// Raft records its applied index just after handing entries to
			// the FSM, so it may trail the store for a moment.
			storeApplied := mustApplied(t, n.store)
			deadline := time.Now().Add(5 * time.Second)
			for n.Status().AppliedIndex < storeApplied {
				if time.Now().After(deadline) {
					t.Fatalf("raft applied index %d behind the store's %d", n.Status().AppliedIndex, storeApplied)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// crashSetup runs a node, proposes five batches, stops everything and keeps
// a copy of the event store as it was then; it then proposes five more.
// The returned paths are the live store and the stale copy, both closed.
func crashSetup(t *testing.T, cfgMod func(*consensus.Config), snapshotAfter bool) (cfg consensus.Config, storePath, stalePath string, batches []events.Batch) {
	t.Helper()
	dir := t.TempDir()
	storePath = filepath.Join(dir, "events.db")
	stalePath = filepath.Join(dir, "stale.db")
	cfg = nodeConfig(filepath.Join(dir, "raft"))
	cfgMod(&cfg)

	store := mustOpenStoreAt(t, storePath)
	n := startNode(t, cfg, store)
	for i := range 5 {
		b := streamBatch(t, "a", int64(i), 1)
		mustPropose(t, n, b)
		batches = append(batches, b)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close node: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("Close store: %v", err)
	}
	copyFile(t, storePath, stalePath)

	store = mustOpenStoreAt(t, storePath)
	n = startNode(t, cfg, store)
	for i := range 5 {
		b := streamBatch(t, "b", int64(i), 1)
		mustPropose(t, n, b)
		batches = append(batches, b)
	}
	if snapshotAfter {
		if err := n.Snapshot(); err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close node: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("Close store: %v", err)
	}
	return cfg, storePath, stalePath, batches
}

// TestRestartWithStoreBehindLog simulates a crash that lost the event
// store's last transactions (or a store restored from an older backup): the
// node replays the Raft log and the store catches up, exactly once.
func TestRestartWithStoreBehindLog(t *testing.T) {
	cfg, storePath, stalePath, batches := crashSetup(t, func(*consensus.Config) {}, false)
	copyFile(t, stalePath, storePath)

	store := mustOpenStoreAt(t, storePath)
	if got := store.Head(); got != 5 {
		t.Fatalf("stale store head: got %d, want 5", got)
	}
	n := startNode(t, cfg, store)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.WaitFor(ctx, 10); err != nil {
		t.Fatalf("store did not catch up from the log: head %d, want 10", store.Head())
	}
	requireLog(t, store, batches)

	b := streamBatch(t, "b", 5, 1)
	mustPropose(t, n, b)
	requireLog(t, store, append(batches, b))
}

// CaughtUp (what /readyz relies on) must not say yes while a restarted
// node still has committed entries to apply: neither before it has heard
// any commit index, nor as a new leader whose commit index is still that
// of an earlier term.
func TestCaughtUpOnlyOnceEverythingCommittedIsApplied(t *testing.T) {
	cfg, storePath, stalePath, _ := crashSetup(t, func(*consensus.Config) {}, false)
	copyFile(t, stalePath, storePath)
	store := mustOpenStoreAt(t, storePath)
	n, err := consensus.Open(cfg, store)
	if err != nil {
		t.Fatalf("consensus.Open: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for !n.CaughtUp() {
		if time.Now().After(deadline) {
			t.Fatalf("not caught up after 10s (store head %d)", store.Head())
		}
		time.Sleep(100 * time.Microsecond)
	}
	if got := store.Head(); got != 10 {
		t.Fatalf("CaughtUp with the store at %d of the 10 committed events", got)
	}
}

// TestRestartWithStoreBehindSnapshot is the same crash after the log was
// compacted past the store's applied index: only the snapshot holds the
// missing events, and Open restores it before raft replays the rest.
func TestRestartWithStoreBehindSnapshot(t *testing.T) {
	tests := []struct {
		name  string
		stale func(t *testing.T, storePath, stalePath string)
	}{
		{
			name:  "store lost its tail",
			stale: func(t *testing.T, storePath, stalePath string) { copyFile(t, stalePath, storePath) },
		},
		{
			name: "store file removed",
			stale: func(t *testing.T, storePath, _ string) {
				for _, suffix := range []string{"", "-wal", "-shm"} {
					os.Remove(storePath + suffix)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, storePath, stalePath, batches := crashSetup(t, func(c *consensus.Config) { c.TrailingLogs = 1 }, true)
			tt.stale(t, storePath, stalePath)

			store := mustOpenStoreAt(t, storePath)
			n := startNode(t, cfg, store)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := store.WaitFor(ctx, 10); err != nil {
				t.Fatalf("store did not catch up: head %d, want 10", store.Head())
			}
			requireLog(t, store, batches)

			b := streamBatch(t, "b", 5, 1)
			if c := mustPropose(t, n, b); c.FirstPosition != 11 {
				t.Fatalf("batch after catch-up: got %+v, want first position 11", c)
			}
			requireLog(t, store, append(batches, b))
		})
	}
}

// TestOpenRefusesStoreThatDivergedFromSnapshot: a store whose history
// disagrees with the node's snapshot must not be patched up.
func TestOpenRefusesStoreThatDivergedFromSnapshot(t *testing.T) {
	cfg, storePath, _, _ := crashSetup(t, func(c *consensus.Config) { c.TrailingLogs = 1 }, true)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(storePath + suffix)
	}
	store := mustOpenStoreAt(t, storePath)
	tx, err := store.Begin(context.Background())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := tx.Append(streamBatch(t, "elsewhere", 0, 3)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := tx.SetApplied(2, 1); err != nil {
		t.Fatalf("SetApplied: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	before := mustReadAll(t, store)

	n, err := consensus.Open(cfg, store)
	if err == nil {
		n.Close()
		t.Fatal("Open over a diverged store: got no error, want one")
	}
	if !strings.Contains(err.Error(), "diverged") {
		t.Errorf("Open error: got %v, want it to mention divergence", err)
	}
	requireSameEvents(t, mustReadAll(t, store), before)
	// Open released what it took: the same raft dir opens again.
	fresh := mustOpenStoreAt(t, filepath.Join(t.TempDir(), "fresh.db"))
	startNode(t, cfg, fresh)
}

// HoldsHistory: a stopped node's Raft directory holds every entry its store
// applied once it has a log, and not while a restored history waits for its
// snapshot (the store alone holds it then), nor without a log.
func TestHoldsHistory(t *testing.T) {
	if ok, why, err := consensus.HoldsHistory(filepath.Join(t.TempDir(), "raft")); ok || err != nil {
		t.Errorf("a directory with no Raft log holds the history (%q, %v)", why, err)
	}
	cfg, _, _, _ := crashSetup(t, func(*consensus.Config) {}, true)
	if ok, why, err := consensus.HoldsHistory(cfg.Dir); !ok || err != nil {
		t.Errorf("the Raft directory of a node that ran does not hold its history (%q, %v)", why, err)
	}
	for _, mark := range []string{"restored-history", "vote-gate", "halted"} {
		t.Run(mark, func(t *testing.T) {
			path := filepath.Join(cfg.Dir, mark)
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(path)
			if ok, why, err := consensus.HoldsHistory(cfg.Dir); ok || why == "" || err != nil {
				t.Errorf("a Raft directory beside %s holds the history (%q, %v)", mark, why, err)
			}
		})
	}
}

// Nor when the snapshots behind a compacted log were lost: the store holds
// entries neither the log nor any snapshot does.
func TestHoldsHistoryNotWithSnapshotsLost(t *testing.T) {
	cfg, _, _, _ := crashSetup(t, func(c *consensus.Config) { c.TrailingLogs = 1 }, true)
	if ok, why, err := consensus.HoldsHistory(cfg.Dir); !ok || err != nil {
		t.Fatalf("before: not held (%q, %v)", why, err)
	}
	if err := os.RemoveAll(filepath.Join(cfg.Dir, "snapshots")); err != nil {
		t.Fatal(err)
	}
	if ok, why, err := consensus.HoldsHistory(cfg.Dir); ok || err != nil || !strings.Contains(why, "snapshots lost") {
		t.Errorf("with its snapshots lost, held = %v (%q, %v)", ok, why, err)
	}
}
