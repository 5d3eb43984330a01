package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

func TestOpenRejectsEmptyNodeID(t *testing.T) {
	dir := t.TempDir()
	store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
	cfg := nodeConfig(filepath.Join(dir, "raft"))
	cfg.NodeID = ""
	n, err := consensus.Open(cfg, store)
	if err == nil {
		n.Close()
		t.Fatal("Open with an empty node ID: got no error, want one")
	}
}

func TestStatusOfSingleNode(t *testing.T) {
	n := mustStartNode(t)
	st := n.Status()
	if st.NodeID != "node-1" || st.State != "Leader" || st.LeaderID != "node-1" {
		t.Fatalf("status: got %+v, want node-1 leading itself", st)
	}
	if st.LeaderAddr != n.RaftAddr() {
		t.Errorf("leader address: got %s, want %s", st.LeaderAddr, n.RaftAddr())
	}
	if len(st.Servers) != 1 || st.Servers[0].ID != "node-1" || st.Servers[0].Suffrage != "Voter" {
		t.Errorf("servers: got %+v, want node-1 as the only voter", st.Servers)
	}
}

func TestProposeCommits(t *testing.T) {
	n := mustStartNode(t)

	first := streamBatch(t, "stream-1", 0, 3)
	c1 := mustPropose(t, n, first)
	if c1.FirstPosition != 1 || c1.LastPosition != 3 || c1.Index == 0 {
		t.Fatalf("first batch: got %+v, want positions 1-3 and a log index", c1)
	}
	// Propose returns once the local FSM applied the entry.
	if got := mustApplied(t, n.store); got < c1.Index {
		t.Fatalf("store applied index after Propose: got %d, want at least %d", got, c1.Index)
	}
	if got := n.store.Head(); got != 3 {
		t.Fatalf("store head after Propose: got %d, want 3", got)
	}

	second := streamBatch(t, "agenda-u1", 0, 1)
	second.Expect = append(second.Expect, events.Expectation{Stream: "stream-1", Version: 3})
	c2 := mustPropose(t, n, second)
	if c2.FirstPosition != 4 || c2.LastPosition != 4 || c2.Index <= c1.Index {
		t.Fatalf("second batch: got %+v, want position 4 at an index after %d", c2, c1.Index)
	}
	requireLog(t, n.store, []events.Batch{first, second})

	// The events come out of the store exactly as they went in.
	got := mustReadAll(t, n.store)
	for i, e := range append(first.Events, second.Events...) {
		e.Position = int64(i + 1)
		requireSameEvents(t, got[i:i+1], []events.Envelope{e})
	}
}

func TestProposeRejections(t *testing.T) {
	n := mustStartNode(t)
	mustPropose(t, n, streamBatch(t, "a", 0, 2))
	mustPropose(t, n, streamBatch(t, "b", 0, 1))
	before := mustReadAll(t, n.store)

	malformed := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, events.ErrMalformed) {
			t.Fatalf("got %v, want an error wrapping %v", err, events.ErrMalformed)
		}
	}
	tests := []struct {
		name  string
		batch events.Batch
		check func(t *testing.T, err error)
		// logged is whether the batch reaches the Raft log: conflicts
		// and duplicates depend on the log's state, so only the FSM can
		// tell them; malformed batches are refused by Propose up front.
		logged bool
	}{
		{
			name: "version conflict",
			// Fresh IDs: the store checks IDs first, and a@2 is committed.
			batch: streamBatchIDs(t, "stale-", "a", 1, 1),
			check: func(t *testing.T, err error) {
				var vc *events.VersionConflictError
				if !errors.As(err, &vc) {
					t.Fatalf("got %v (%T), want *events.VersionConflictError", err, err)
				}
				if want := (events.VersionConflictError{Stream: "a", Expected: 1, Actual: 2, Position: 2}); *vc != want {
					t.Fatalf("conflict: got %+v, want %+v", *vc, want)
				}
			},
			logged: true,
		},
		{
			name: "duplicate event id",
			batch: func() events.Batch {
				b := streamBatch(t, "c", 0, 1)
				b.Events[0].ID = "a@2"
				return b
			}(),
			check: func(t *testing.T, err error) {
				var dup *events.DuplicateEventError
				if !errors.As(err, &dup) {
					t.Fatalf("got %v (%T), want *events.DuplicateEventError", err, err)
				}
				if want := (events.DuplicateEventError{EventID: "a@2", Position: 2}); *dup != want {
					t.Fatalf("duplicate: got %+v, want %+v", *dup, want)
				}
			},
			logged: true,
		},
		{
			name:  "version gap",
			batch: events.Batch{Expect: []events.Expectation{{Stream: "c", Version: 0}}, Events: []events.Envelope{newEvent(t, "c@2", "c", 2)}},
			check: malformed,
		},
		{
			name:  "empty batch",
			batch: events.Batch{Expect: []events.Expectation{{Stream: "c", Version: 0}}},
			check: malformed,
		},
		{
			name: "event data is not JSON",
			batch: func() events.Batch {
				b := streamBatch(t, "c", 0, 1)
				b.Events[0].Data = []byte(`not json`)
				return b
			}(),
			check: malformed,
		},
		{
			name: "undecodable event data",
			batch: func() events.Batch {
				b := streamBatch(t, "c", 0, 1)
				b.Events[0].Data = []byte(`{"appointment_id":"x","surprise":true}`)
				return b
			}(),
			check: malformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appliedBefore := mustApplied(t, n.store)
			commitBefore := n.Status().CommitIndex
			_, err := propose(n, tt.batch)
			tt.check(t, err)
			requireSameEvents(t, mustReadAll(t, n.store), before)
			applied, commit := mustApplied(t, n.store), n.Status().CommitIndex
			if tt.logged {
				// The rejected entry is still applied (every replica
				// rejects it the same way), so the index moves on.
				if applied <= appliedBefore {
					t.Errorf("applied index after a rejected entry: got %d, want past %d", applied, appliedBefore)
				}
				return
			}
			// Refused before raft.Apply: nothing reached the log.
			if applied != appliedBefore {
				t.Errorf("store applied index after a refused batch: got %d, want %d unchanged", applied, appliedBefore)
			}
			if commit != commitBefore {
				t.Errorf("raft commit index after a refused batch: got %d, want %d unchanged", commit, commitBefore)
			}
		})
	}

	// The log goes on after the rejections.
	c := mustPropose(t, n, streamBatch(t, "a", 2, 1))
	if c.FirstPosition != 4 {
		t.Fatalf("batch after rejections: got %+v, want first position 4", c)
	}
}

// TestProposeRetryOfCommittedBatch pins the contract commands.propose relies
// on after events.ErrOutcomeUnknown: proposing the very same batch again
// answers DuplicateEventError when the first attempt committed.
func TestProposeRetryOfCommittedBatch(t *testing.T) {
	n := mustStartNode(t)
	b := streamBatch(t, "stream-1", 0, 2)
	first := mustPropose(t, n, b)
	// The retry's expectation is stale too: the duplicate must win.
	_, err := propose(n, b)
	var dup *events.DuplicateEventError
	if !errors.As(err, &dup) {
		t.Fatalf("retry: got %v (%T), want *events.DuplicateEventError", err, err)
	}
	if dup.EventID != b.Events[0].ID || dup.Position != first.FirstPosition {
		t.Fatalf("duplicate: got %+v, want %s at %d", *dup, b.Events[0].ID, first.FirstPosition)
	}
	requireLog(t, n.store, []events.Batch{b})
}

// TestProposeRefusesUnknownEventType: an entry with an unknown event type
// halts every replica's FSM (by design), and every replica halts again on
// replay, so Propose must refuse such a batch before it reaches the log.
// The node runs in a child process: were the batch to reach the log, the
// halting FSM would panic in a raft goroutine and take the whole test binary
// down. A second child restarts the node to show the log holds no poison.
func TestProposeRefusesUnknownEventType(t *testing.T) {
	switch os.Getenv("AGENDA_TEST_POISON_CHILD") {
	case "propose":
		dir := os.Getenv("AGENDA_TEST_POISON_DIR")
		store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
		n := startNode(t, nodeConfig(filepath.Join(dir, "raft")), store)
		unknownType := streamBatch(t, "a", 0, 1)
		unknownType.Events[0].Type = "appointment.teleported"
		unknownSchema := streamBatch(t, "a", 0, 1)
		unknownSchema.Events[0].SchemaVersion = 99
		for _, b := range []events.Batch{unknownType, unknownSchema} {
			appliedBefore := mustApplied(t, n.store)
			commitBefore := n.Status().CommitIndex
			if _, err := propose(n, b); !errors.Is(err, events.ErrUnknownType) {
				t.Fatalf("Propose %s v%d: got %v, want an error wrapping %v", b.Events[0].Type, b.Events[0].SchemaVersion, err, events.ErrUnknownType)
			}
			if got := n.store.Head(); got != 0 {
				t.Fatalf("Head: got %d, want 0", got)
			}
			if got := mustApplied(t, n.store); got != appliedBefore {
				t.Fatalf("store applied index: got %d, want %d unchanged", got, appliedBefore)
			}
			if got := n.Status().CommitIndex; got != commitBefore {
				t.Fatalf("raft commit index: got %d, want %d unchanged", got, commitBefore)
			}
		}
		// The node is alive: it still leads and commits a valid batch.
		if !n.IsLeader() {
			t.Fatalf("node no longer leads: %+v", n.Status())
		}
		good := streamBatch(t, "a", 0, 1)
		if c := mustPropose(t, n, good); c.FirstPosition != 1 {
			t.Fatalf("valid batch after the refusals: got %+v, want position 1", c)
		}
		requireLog(t, n.store, []events.Batch{good})
		return
	case "restart":
		dir := os.Getenv("AGENDA_TEST_POISON_DIR")
		store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
		n := startNode(t, nodeConfig(filepath.Join(dir, "raft")), store)
		// Propose returns once the FSM applied the entry, so raft has
		// replayed the log before it by then.
		first, next := streamBatch(t, "a", 0, 1), streamBatch(t, "a", 1, 1)
		if c := mustPropose(t, n, next); c.FirstPosition != 2 {
			t.Fatalf("batch after restart: got %+v, want position 2", c)
		}
		requireLog(t, n.store, []events.Batch{first, next})
		return
	}

	dir := t.TempDir()
	for _, mode := range []string{"propose", "restart"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestProposeRefusesUnknownEventType$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "AGENDA_TEST_POISON_CHILD="+mode, "AGENDA_TEST_POISON_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if i := strings.Index(string(out), "panic: consensus: entry"); i >= 0 {
			panicLine, _, _ := strings.Cut(string(out[i:]), "\n")
			t.Fatalf("%s: the FSM halted, so a batch of unknown type reached the log: %s", mode, panicLine)
		}
		if err != nil {
			t.Fatalf("%s child process: %v\n%s", mode, err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestProposeRefusesUnknownEventType") {
			t.Fatalf("%s child process did not run the test:\n%s", mode, out)
		}
	}
}

func TestProposeContextAlreadyExpired(t *testing.T) {
	n := mustStartNode(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := n.Propose(ctx, streamBatch(t, "a", 0, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Propose with an expired context: got %v, want %v", err, context.DeadlineExceeded)
	}
	if got := n.store.Head(); got != 0 {
		t.Fatalf("Head: got %d, want 0", got)
	}
}

func TestProposeAfterClose(t *testing.T) {
	n := mustStartNode(t)
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := propose(n, streamBatch(t, "a", 0, 1))
	if !errors.Is(err, consensus.ErrShutdown) {
		t.Fatalf("Propose after Close: got %v, want %v", err, consensus.ErrShutdown)
	}
	if got := agenda.ErrorCode(err); got != agenda.EUNAVAILABLE {
		t.Fatalf("error code: got %q, want %q", got, agenda.EUNAVAILABLE)
	}
}

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
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")})
	if err != nil {
		t.Fatalf("open raft log: %v", err)
	}
	first, err := logs.FirstIndex()
	logs.Close()
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

func TestConcurrentProposalsToDistinctStreams(t *testing.T) {
	n := mustStartNode(t)
	const writers, each = 64, 3
	var wg sync.WaitGroup
	type result struct {
		c   events.Committed
		err error
	}
	results := make([][]result, writers)
	batches := make([][]events.Batch, writers)
	for w := range writers {
		for i := range each {
			batches[w] = append(batches[w], streamBatch(t, fmt.Sprintf("stream-%d", w), int64(i), 1))
		}
	}
	for w := range writers {
		wg.Go(func() {
			for _, b := range batches[w] {
				c, err := propose(n, b)
				results[w] = append(results[w], result{c, err})
			}
		})
	}
	wg.Wait()

	positions := map[int64]bool{}
	for w, rs := range results {
		for i, r := range rs {
			if r.err != nil {
				t.Fatalf("writer %d batch %d: %v", w, i, r.err)
			}
			if positions[r.c.FirstPosition] {
				t.Fatalf("position %d handed out twice", r.c.FirstPosition)
			}
			positions[r.c.FirstPosition] = true
		}
	}
	all := mustReadAll(t, n.store)
	if len(all) != writers*each {
		t.Fatalf("store holds %d events, want %d", len(all), writers*each)
	}
	for i, e := range all {
		if e.Position != int64(i+1) {
			t.Fatalf("position %d at index %d: not dense", e.Position, i)
		}
	}
	for w := range writers {
		evs, err := n.store.ReadStream(context.Background(), fmt.Sprintf("stream-%d", w))
		if err != nil {
			t.Fatalf("ReadStream: %v", err)
		}
		if len(evs) != each {
			t.Fatalf("stream-%d: got %d events, want %d", w, len(evs), each)
		}
	}
}

func TestConcurrentProposalsToOneStream(t *testing.T) {
	n := mustStartNode(t)
	const racers = 16
	var wg sync.WaitGroup
	errs := make([]error, racers)
	commits := make([]events.Committed, racers)
	start := make(chan struct{})
	for r := range racers {
		b := events.Batch{
			Expect: []events.Expectation{{Stream: "username-alice", Version: 0}},
			Events: []events.Envelope{newEvent(t, fmt.Sprintf("claim-%d", r), "username-alice", 1)},
		}
		wg.Go(func() {
			<-start
			commits[r], errs[r] = propose(n, b)
		})
	}
	close(start)
	wg.Wait()

	winners := 0
	var winPos int64
	for r, err := range errs {
		if err == nil {
			winners++
			winPos = commits[r].FirstPosition
		}
	}
	if winners != 1 {
		t.Fatalf("winners: got %d, want exactly 1 (errors %v)", winners, errs)
	}
	for r, err := range errs {
		if err == nil {
			continue
		}
		var vc *events.VersionConflictError
		if !errors.As(err, &vc) {
			t.Fatalf("racer %d: got %v (%T), want *events.VersionConflictError", r, err, err)
		}
		if vc.Actual != 1 || vc.Position != winPos {
			t.Fatalf("racer %d: conflict %+v, want actual 1 at position %d", r, *vc, winPos)
		}
	}
	if got := n.store.Head(); got != 1 {
		t.Fatalf("Head: got %d, want 1", got)
	}
}

func TestCloseLeavesStoreOpen(t *testing.T) {
	n := mustStartNode(t)
	mustPropose(t, n, streamBatch(t, "a", 0, 1))
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The node does not own the store.
	if got := mustReadAll(t, n.store); len(got) != 1 {
		t.Fatalf("store after node Close: got %d events, want 1", len(got))
	}
	// The raft directory holds the log and the snapshot dir.
	for _, name := range []string{"raft.db", "snapshots"} {
		if _, err := os.Stat(filepath.Join(n.cfg.Dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestErrorsAreUnavailable(t *testing.T) {
	for _, err := range []error{consensus.ErrNotLeader, consensus.ErrNoLeader, consensus.ErrShutdown} {
		if got := agenda.ErrorCode(err); got != agenda.EUNAVAILABLE {
			t.Errorf("%v: code %q, want %q", err, got, agenda.EUNAVAILABLE)
		}
		if !strings.Contains(err.Error(), "retry") && err != consensus.ErrShutdown {
			t.Errorf("%v: want the message to tell the client to retry", err)
		}
	}
}
