package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

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
		// A new leader's own entries (the bootstrap configuration, its
		// no-op) may still be committing and applying: settle them first,
		// or the indexes below move for reasons of their own.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		idx, err := n.ReadIndex(ctx)
		if err == nil {
			err = n.WaitApplied(ctx, idx)
		}
		if err != nil {
			t.Fatalf("settle the new leader: %v", err)
		}
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

// A batch too large for one log entry is refused before it is proposed:
// committed, it would be written to a log that refuses to read it back
// (raft-wal takes at most 64 MiB an entry), and a follower could not
// forward it (see events.MaxBatchBytes). Nothing of it is written, and
// the node goes on.
func TestProposeRefusesABatchTooLargeForOneEntry(t *testing.T) {
	n := mustStartNode(t)
	big := streamBatch(t, "big", 0, 280000) // over 48 MiB encoded
	_, err := propose(n, big)
	if !errors.Is(err, events.ErrBatchTooLarge) {
		t.Fatalf("proposing %d events: err = %v, want ErrBatchTooLarge", len(big.Events), err)
	}
	if got := n.store.Head(); got != 0 {
		t.Fatalf("store head after the refusal = %d, want 0", got)
	}
	mustPropose(t, n, streamBatch(t, "big", 0, 3))
}
