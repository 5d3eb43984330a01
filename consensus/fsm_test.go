package consensus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// The FSM is tested directly with hand-made raft logs: this is the only way
// to feed it entries that a well-behaved proposer never produces.

func mustOpenFSM(tb testing.TB) *fsm {
	tb.Helper()
	s, err := eventstore.Open(context.Background(), filepath.Join(tb.TempDir(), "events.db"))
	if err != nil {
		tb.Fatalf("open event store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return &fsm{store: s, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func fsmEventID(tb testing.TB, id, stream string, version int64) events.Envelope {
	tb.Helper()
	e, err := events.New(id, stream, version, events.AppointmentDeleted{AppointmentID: id}, events.Meta{
		Time: time.Date(2026, 3, 20, 13, 0, 0, int(version), time.UTC), OriginNode: "node-1",
	})
	if err != nil {
		tb.Fatalf("events.New: %v", err)
	}
	return e
}

// fsmBatch is n events on stream after version from, expecting from. IDs
// are stream@version.
func fsmBatch(tb testing.TB, stream string, from int64, n int) events.Batch {
	tb.Helper()
	return fsmBatchIDs(tb, "", stream, from, n)
}

// fsmBatchIDs is fsmBatch with IDs idPrefix+stream@version. The store checks
// event IDs before expectations, so a batch meant to conflict at versions
// already committed needs IDs that are not committed yet.
func fsmBatchIDs(tb testing.TB, idPrefix, stream string, from int64, n int) events.Batch {
	tb.Helper()
	b := events.Batch{Expect: []events.Expectation{{Stream: stream, Version: from}}}
	for v := from + 1; v <= from+int64(n); v++ {
		b.Events = append(b.Events, fsmEventID(tb, fmt.Sprintf("%s%s@%d", idPrefix, stream, v), stream, v))
	}
	return b
}

// commandLog is the raft log entry Propose would write for b.
func commandLog(tb testing.TB, index uint64, b events.Batch) *raft.Log {
	tb.Helper()
	data, err := encodeBatch(b)
	if err != nil {
		tb.Fatalf("encodeBatch: %v", err)
	}
	return &raft.Log{Index: index, Term: 2, Type: raft.LogCommand, Data: data}
}

func rawLog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Term: 2, Type: raft.LogCommand, Data: data}
}

func resultAt(tb testing.TB, out []any, i int) applyResult {
	tb.Helper()
	r, ok := out[i].(applyResult)
	if !ok {
		tb.Fatalf("result %d: got %T (%v), want applyResult", i, out[i], out[i])
	}
	return r
}

func storeApplied(tb testing.TB, f *fsm) (index, term uint64) {
	tb.Helper()
	index, term, err := f.store.Applied(context.Background())
	if err != nil {
		tb.Fatalf("Applied: %v", err)
	}
	return index, term
}

func storeEvents(tb testing.TB, f *fsm) []events.Envelope {
	tb.Helper()
	evs, err := f.store.Read(context.Background(), 0, 1<<20)
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return evs
}

// requirePanic runs fn and fails unless it panics with a message containing
// want.
func requirePanic(tb testing.TB, want string, fn func()) {
	tb.Helper()
	var got any
	func() {
		defer func() { got = recover() }()
		fn()
	}()
	if got == nil {
		tb.Fatalf("got no panic, want one mentioning %q", want)
	}
	if msg := fmt.Sprint(got); !strings.Contains(msg, want) {
		tb.Fatalf("panic: got %q, want it to mention %q", msg, want)
	}
}

func TestFSMApplyBatch(t *testing.T) {
	f := mustOpenFSM(t)
	logs := []*raft.Log{
		commandLog(t, 1, fsmBatch(t, "a", 0, 2)),
		{Index: 2, Term: 2, Type: raft.LogConfiguration, Data: []byte("config")},
		commandLog(t, 3, fsmBatchIDs(t, "stale-", "a", 0, 1)), // conflicts with index 1
		commandLog(t, 4, fsmBatch(t, "b", 0, 1)),
		rawLog(5, append([]byte{byte(entryAppendEvents)}, "not json"...)),
	}
	out := f.ApplyBatch(logs)
	if len(out) != len(logs) {
		t.Fatalf("results: got %d, want %d", len(out), len(logs))
	}

	if r := resultAt(t, out, 0); r.Err != nil || r.Committed != (events.Committed{FirstPosition: 1, LastPosition: 2, Index: 1}) {
		t.Errorf("entry 1: got %+v, want positions 1-2 at index 1", r)
	}
	if out[1] != nil {
		t.Errorf("configuration entry: got %v, want nil", out[1])
	}
	var vc *events.VersionConflictError
	if r := resultAt(t, out, 2); !errors.As(r.Err, &vc) || *vc != (events.VersionConflictError{Stream: "a", Expected: 0, Actual: 2, Position: 2}) {
		t.Errorf("entry 3: got %+v, want a version conflict on a at 2 (position 2)", r)
	}
	if r := resultAt(t, out, 3); r.Err != nil || r.Committed != (events.Committed{FirstPosition: 3, LastPosition: 3, Index: 4}) {
		t.Errorf("entry 4: got %+v, want position 3 at index 4", r)
	}
	if r := resultAt(t, out, 4); !errors.Is(r.Err, events.ErrMalformed) {
		t.Errorf("undecodable entry 5: got %+v, want an error wrapping %v", r, events.ErrMalformed)
	}

	if index, term := storeApplied(t, f); index != 5 || term != 2 {
		t.Errorf("applied: got (%d, %d), want (5, 2)", index, term)
	}
	if got := f.store.Head(); got != 3 {
		t.Errorf("head: got %d, want 3", got)
	}
}

func TestFSMApplyDelegatesToApplyBatch(t *testing.T) {
	f := mustOpenFSM(t)
	r, ok := f.Apply(commandLog(t, 7, fsmBatch(t, "a", 0, 1))).(applyResult)
	if !ok || r.Err != nil || r.Committed != (events.Committed{FirstPosition: 1, LastPosition: 1, Index: 7}) {
		t.Fatalf("Apply: got %+v, want position 1 at index 7", r)
	}
	if index, _ := storeApplied(t, f); index != 7 {
		t.Fatalf("applied: got %d, want 7", index)
	}
}

func TestFSMSkipsEntriesAlreadyApplied(t *testing.T) {
	f := mustOpenFSM(t)
	b1, b2, b3 := fsmBatch(t, "a", 0, 1), fsmBatch(t, "a", 1, 1), fsmBatch(t, "a", 2, 1)
	f.ApplyBatch([]*raft.Log{commandLog(t, 1, b1), commandLog(t, 2, b2)})
	before := storeEvents(t, f)

	t.Run("all entries replayed", func(t *testing.T) {
		out := f.ApplyBatch([]*raft.Log{commandLog(t, 1, b1), commandLog(t, 2, b2)})
		for i := range out {
			if r := resultAt(t, out, i); r.Err == nil || !strings.Contains(r.Err.Error(), "applied before restart") {
				t.Errorf("replayed entry %d: got %+v, want it skipped", i+1, r)
			}
		}
		if got := storeEvents(t, f); !reflect.DeepEqual(got, before) {
			t.Fatalf("events after replay: got %d, want the %d before", len(got), len(before))
		}
		if index, _ := storeApplied(t, f); index != 2 {
			t.Fatalf("applied: got %d, want 2", index)
		}
	})
	t.Run("replay overlapping new entries", func(t *testing.T) {
		out := f.ApplyBatch([]*raft.Log{commandLog(t, 2, b2), commandLog(t, 3, b3)})
		if r := resultAt(t, out, 0); r.Err == nil {
			t.Errorf("replayed entry 2: got %+v, want it skipped", r)
		}
		if r := resultAt(t, out, 1); r.Err != nil || r.Committed.FirstPosition != 3 {
			t.Errorf("new entry 3: got %+v, want position 3", r)
		}
		evs := storeEvents(t, f)
		if len(evs) != 3 {
			t.Fatalf("events: got %d, want 3", len(evs))
		}
		if index, _ := storeApplied(t, f); index != 3 {
			t.Fatalf("applied: got %d, want 3", index)
		}
	})
}

// An entry replayed at the applied index with another term than the one
// the store recorded comes from another history: the FSM halts rather than
// skip it and serve that history as this cluster's.
func TestFSMHaltsOnAnotherHistory(t *testing.T) {
	f := mustOpenFSM(t)
	b1, b2 := fsmBatch(t, "a", 0, 1), fsmBatch(t, "a", 1, 1)
	f.ApplyBatch([]*raft.Log{commandLog(t, 1, b1), commandLog(t, 2, b2)}) // term 2
	before := storeEvents(t, f)

	foreign := commandLog(t, 2, fsmBatch(t, "z", 0, 1))
	foreign.Term = 3
	requirePanic(t, "history does not hold", func() { f.ApplyBatch([]*raft.Log{commandLog(t, 1, b1), foreign}) })
	if got := storeEvents(t, f); !reflect.DeepEqual(got, before) {
		t.Fatalf("events after halt: got %d, want the %d before", len(got), len(before))
	}
	// The same history replays quietly.
	out := f.ApplyBatch([]*raft.Log{commandLog(t, 2, b2)})
	if r := resultAt(t, out, 0); r.Err == nil || !strings.Contains(r.Err.Error(), "applied before restart") {
		t.Fatalf("replay of the same entry: %+v, want it skipped", r)
	}
	// Were a proposer waiting, its outcome is unknown here (503), not an
	// internal error.
	if r := resultAt(t, out, 0); !errors.Is(r.Err, events.ErrOutcomeUnknown) {
		t.Errorf("a skipped entry answers %v, want events.ErrOutcomeUnknown", r.Err)
	}
}

func TestFSMHalts(t *testing.T) {
	unknownType := fsmBatch(t, "a", 0, 2)
	unknownType.Events[1].Type = "appointment.teleported"
	unknownSchema := fsmBatch(t, "a", 0, 1)
	unknownSchema.Events[0].SchemaVersion = 99

	tests := []struct {
		name      string
		log       func(t *testing.T) *raft.Log
		wantPanic string
	}{
		{name: "entry type 0", log: func(*testing.T) *raft.Log { return rawLog(3, []byte{0, '{', '}'}) }, wantPanic: "unknown entry type 0"},
		{name: "entry type 2", log: func(*testing.T) *raft.Log { return rawLog(3, []byte{2, '{', '}'}) }, wantPanic: "unknown entry type 2"},
		{name: "entry type 255", log: func(*testing.T) *raft.Log { return rawLog(3, []byte{255}) }, wantPanic: "unknown entry type 255"},
		{name: "empty command entry", log: func(*testing.T) *raft.Log { return rawLog(3, nil) }, wantPanic: "empty command entry"},
		{name: "event of unknown type", log: func(t *testing.T) *raft.Log { return commandLog(t, 3, unknownType) }, wantPanic: "appointment.teleported"},
		{name: "event of unknown schema version", log: func(t *testing.T) *raft.Log { return commandLog(t, 3, unknownSchema) }, wantPanic: "schema version 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustOpenFSM(t)
			f.ApplyBatch([]*raft.Log{commandLog(t, 1, fsmBatch(t, "b", 0, 1))})
			before := storeEvents(t, f)

			// The entry comes after a good one in the same batch: the
			// good one must not be committed without it either.
			good := commandLog(t, 2, fsmBatch(t, "c", 0, 1))
			requirePanic(t, tt.wantPanic, func() { f.ApplyBatch([]*raft.Log{good, tt.log(t)}) })

			if got := storeEvents(t, f); !reflect.DeepEqual(got, before) {
				t.Fatalf("events after halt: got %d, want the %d before", len(got), len(before))
			}
			if index, _ := storeApplied(t, f); index != 1 {
				t.Fatalf("applied after halt: got %d, want 1", index)
			}
			// The halt released the write transaction.
			out := f.ApplyBatch([]*raft.Log{good})
			if r := resultAt(t, out, 0); r.Err != nil {
				t.Fatalf("apply after halt: %v", r.Err)
			}
		})
	}
}

func TestFSMHaltsOnStorageFailure(t *testing.T) {
	f := mustOpenFSM(t)
	if err := f.store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	requirePanic(t, "begin apply", func() { f.ApplyBatch([]*raft.Log{commandLog(t, 1, fsmBatch(t, "a", 0, 1))}) })
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	failWrite bool
	closed    bool
	cancelled bool
}

func (s *memSink) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}
func (s *memSink) ID() string     { return "mem" }
func (s *memSink) Close() error   { s.closed = true; return nil }
func (s *memSink) Cancel() error  { s.cancelled = true; return nil }
func (s *memSink) String() string { return fmt.Sprintf("memSink(%d bytes)", s.Len()) }

// closeTracker records whether Restore closed its reader.
type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestFSMSnapshotPersistRestore(t *testing.T) {
	src := mustOpenFSM(t)
	src.ApplyBatch([]*raft.Log{
		commandLog(t, 1, fsmBatch(t, "a", 0, 2)),
		commandLog(t, 2, fsmBatch(t, "b", 0, 3)),
	})
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	// Entries applied after Snapshot are not in it.
	src.ApplyBatch([]*raft.Log{commandLog(t, 3, fsmBatch(t, "c", 0, 1))})

	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	snap.Release()
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink after Persist: closed %v cancelled %v, want closed only", sink.closed, sink.cancelled)
	}

	dst := mustOpenFSM(t)
	rc := &closeTracker{Reader: bytes.NewReader(sink.Bytes())}
	if err := dst.Restore(rc); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if !rc.closed {
		t.Error("Restore did not close the snapshot reader")
	}
	want := storeEvents(t, src)[:5]
	if got := storeEvents(t, dst); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored events: got %d, want %d identical", len(got), len(want))
	}
	if index, term := storeApplied(t, dst); index != 2 || term != 2 {
		t.Fatalf("restored applied: got (%d, %d), want (2, 2)", index, term)
	}

	// The restored FSM skips what the snapshot covered and applies the rest.
	out := dst.ApplyBatch([]*raft.Log{
		commandLog(t, 2, fsmBatch(t, "b", 0, 3)),
		commandLog(t, 3, fsmBatch(t, "c", 0, 1)),
	})
	// Entry 2 is skipped by its index, not refused as a duplicate.
	if r := resultAt(t, out, 0); r.Err == nil || !strings.Contains(r.Err.Error(), "applied before restart") {
		t.Fatalf("entry 2 after restore: got %+v, want it skipped as applied before restart", r)
	}
	if r := resultAt(t, out, 1); r.Err != nil || r.Committed.FirstPosition != 6 {
		t.Fatalf("entry 3 after restore: got %+v, want position 6", r)
	}
	if got := storeEvents(t, dst); !reflect.DeepEqual(got, storeEvents(t, src)) {
		t.Fatal("stores differ after applying the same entries")
	}
}

func TestFSMPersistFailureCancelsSink(t *testing.T) {
	f := mustOpenFSM(t)
	f.ApplyBatch([]*raft.Log{commandLog(t, 1, fsmBatch(t, "a", 0, 1))})
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	sink := &memSink{failWrite: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist to a failing sink: got no error, want one")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("sink after failed Persist: closed %v cancelled %v, want cancelled only", sink.closed, sink.cancelled)
	}
}

func TestEncodeDecodeBatch(t *testing.T) {
	b := fsmBatch(t, "a", 3, 2)
	b.Expect = append(b.Expect, events.Expectation{Stream: "guard", Version: 9})
	data, err := encodeBatch(b)
	if err != nil {
		t.Fatalf("encodeBatch: %v", err)
	}
	if data[0] != byte(entryAppendEvents) {
		t.Fatalf("entry type byte: got %d, want %d", data[0], entryAppendEvents)
	}
	got, err := decodeBatch(data[1:])
	if err != nil {
		t.Fatalf("decodeBatch: %v", err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, b)
	}
	if _, err := decodeBatch([]byte("{")); !errors.Is(err, events.ErrMalformed) {
		t.Fatalf("decodeBatch of broken JSON: got %v, want an error wrapping %v", err, events.ErrMalformed)
	}
}

// TestFSMHaltsWhenTheLogRewritesWhatItApplied is the leader of finding 1
// of issue 8: it applied entries that the cluster did not keep (a stale
// leader was elected with an emptied voter's help), the new leader's entries
// replaced them in its log, and it went on applying on top of a history the
// cluster does not have. The FSM must stop at the next batch instead.
func TestFSMHaltsWhenTheLogRewritesWhatItApplied(t *testing.T) {
	f := mustOpenFSM(t)
	logs := raft.NewInmemStore()
	f.logs = logs
	b1, b2 := fsmBatch(t, "a", 0, 1), fsmBatch(t, "a", 1, 1)
	l1, l2 := commandLog(t, 1, b1), commandLog(t, 2, b2)
	if err := logs.StoreLogs([]*raft.Log{l1, l2}); err != nil {
		t.Fatal(err)
	}
	f.ApplyBatch([]*raft.Log{l1, l2}) // term 2
	// The same history goes on quietly.
	l3 := commandLog(t, 3, fsmBatch(t, "a", 2, 1))
	logs.StoreLogs([]*raft.Log{l3})
	if r := resultAt(t, f.ApplyBatch([]*raft.Log{l3}), 0); r.Err != nil {
		t.Fatalf("apply on the same history: %v", r.Err)
	}
	before := storeEvents(t, f)

	// Another leader's entries replace 2..3 at term 3.
	if err := logs.DeleteRange(2, 3); err != nil {
		t.Fatal(err)
	}
	var replaced []*raft.Log
	for i := uint64(2); i <= 4; i++ {
		l := commandLog(t, i, fsmBatch(t, fmt.Sprintf("z%d", i), 0, 1))
		l.Term = 3
		replaced = append(replaced, l)
	}
	logs.StoreLogs(replaced)
	requirePanic(t, "history does not hold", func() { f.ApplyBatch(replaced[2:]) })
	if got := storeEvents(t, f); !reflect.DeepEqual(got, before) {
		t.Fatalf("events after halt: got %d, want the %d before", len(got), len(before))
	}
}

// A halt is recorded beside the Raft log before the node stops, so that its
// store, which may hold what the cluster did not keep, is never discarded
// as the log's copy (HoldsHistory).
func TestHaltIsRecorded(t *testing.T) {
	mark := filepath.Join(t.TempDir(), haltedFile)
	f := &fsm{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), haltMark: mark}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("halt did not stop the state machine")
			}
		}()
		f.halt("apply entry 7", errors.New("diverged"))
	}()
	b, err := os.ReadFile(mark)
	if err != nil {
		t.Fatalf("no record of the halt: %v", err)
	}
	if !strings.Contains(string(b), "apply entry 7: diverged") {
		t.Errorf("the record says %q", b)
	}
}
