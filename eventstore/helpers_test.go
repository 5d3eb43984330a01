package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// testTime has nanoseconds so that a store that drops them is caught.
var testTime = time.Date(2026, 3, 20, 13, 4, 5, 123456789, time.UTC)

// mustOpenStore opens an event store in a fresh temporary directory and
// closes it when the test ends.
func mustOpenStore(tb testing.TB) *eventstore.Store {
	tb.Helper()
	s, _ := mustOpenStoreFile(tb)
	return s
}

// mustOpenStoreFile is mustOpenStore that also returns the database path.
func mustOpenStoreFile(tb testing.TB) (*eventstore.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "events.db")
	return mustOpenStoreAt(tb, path), path
}

// mustOpenStoreAt opens the event store at path and closes it when the test
// ends (closing twice is harmless).
func mustOpenStoreAt(tb testing.TB, path string) *eventstore.Store {
	tb.Helper()
	s, err := eventstore.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("open event store %s: %v", path, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// newEvent builds a valid envelope on stream at version; its data names the
// ID so that every event's payload differs.
func newEvent(tb testing.TB, id, stream string, version int64) events.Envelope {
	tb.Helper()
	e, err := events.New(id, stream, version, events.AppointmentDeleted{AppointmentID: id}, events.Meta{
		Time:          testTime.Add(time.Duration(version) * time.Second),
		OriginNode:    "node-1",
		Actor:         "user-1",
		CorrelationID: "corr-" + id,
	})
	if err != nil {
		tb.Fatalf("events.New: %v", err)
	}
	return e
}

func expect(stream string, version int64) events.Expectation {
	return events.Expectation{Stream: stream, Version: version}
}

// streamBatch builds a batch of n events on stream following version from,
// expecting the stream at from. IDs are stream@version.
func streamBatch(tb testing.TB, stream string, from int64, n int) events.Batch {
	tb.Helper()
	return streamBatchIDs(tb, "", stream, from, n)
}

// streamBatchIDs is streamBatch with IDs idPrefix+stream@version. Append
// checks event IDs before expectations, so a batch meant to provoke a version
// conflict at versions already committed needs IDs that are not committed:
// with streamBatch's IDs it would be reported as a duplicate instead.
func streamBatchIDs(tb testing.TB, idPrefix, stream string, from int64, n int) events.Batch {
	tb.Helper()
	b := events.Batch{Expect: []events.Expectation{expect(stream, from)}}
	for v := from + 1; v <= from+int64(n); v++ {
		b.Events = append(b.Events, newEvent(tb, fmt.Sprintf("%s%s@%d", idPrefix, stream, v), stream, v))
	}
	return b
}

// mustBegin starts a write transaction and rolls it back at the end of the
// test if it is still open.
func mustBegin(tb testing.TB, s *eventstore.Store) *eventstore.Tx {
	tb.Helper()
	tx, err := s.Begin(context.Background())
	if err != nil {
		tb.Fatalf("Begin: %v", err)
	}
	tb.Cleanup(func() { tx.Rollback() })
	return tx
}

func mustAppend(tb testing.TB, tx *eventstore.Tx, b events.Batch) events.Committed {
	tb.Helper()
	c, err := tx.Append(b)
	if err != nil {
		tb.Fatalf("Append: %v", err)
	}
	return c
}

func mustCommit(tb testing.TB, tx *eventstore.Tx) {
	tb.Helper()
	if err := tx.Commit(); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
}

// mustApply appends the batches in one transaction, records index as the
// applied Raft index (term 1) and commits, as the FSM does.
func mustApply(tb testing.TB, s *eventstore.Store, index uint64, batches ...events.Batch) []events.Committed {
	tb.Helper()
	tx := mustBegin(tb, s)
	var out []events.Committed
	for _, b := range batches {
		out = append(out, mustAppend(tb, tx, b))
	}
	if err := tx.SetApplied(index, 1); err != nil {
		tb.Fatalf("SetApplied: %v", err)
	}
	mustCommit(tb, tx)
	return out
}

// appendAndCommit appends b alone in a transaction, commits whatever the
// outcome, and returns Append's error.
func appendAndCommit(tb testing.TB, s *eventstore.Store, b events.Batch) error {
	tb.Helper()
	tx := mustBegin(tb, s)
	_, err := tx.Append(b)
	mustCommit(tb, tx)
	return err
}

// mustReadAll returns every event in the store.
func mustReadAll(tb testing.TB, s *eventstore.Store) []events.Envelope {
	tb.Helper()
	got, err := s.Read(context.Background(), 0, 1<<30)
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return got
}

func mustReadStream(tb testing.TB, s *eventstore.Store, stream string) []events.Envelope {
	tb.Helper()
	got, err := s.ReadStream(context.Background(), stream)
	if err != nil {
		tb.Fatalf("ReadStream(%s): %v", stream, err)
	}
	return got
}

func mustApplied(tb testing.TB, s *eventstore.Store) (index, term uint64) {
	tb.Helper()
	index, term, err := s.Applied(context.Background())
	if err != nil {
		tb.Fatalf("Applied: %v", err)
	}
	return index, term
}

// positions lists the positions of evs.
func positions(evs []events.Envelope) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

// ids lists the IDs of evs.
func ids(evs []events.Envelope) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// requireSameEvents fails unless got and want are field for field equal,
// naming the first difference.
func requireSameEvents(tb testing.TB, got, want []events.Envelope) {
	tb.Helper()
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			tb.Fatalf("event %d differs:\n got %s\nwant %s", i, dump(got[i]), dump(want[i]))
		}
	}
	if len(got) != len(want) {
		tb.Fatalf("got %d events %v, want %d %v", len(got), ids(got), len(want), ids(want))
	}
}

func dump(e events.Envelope) string {
	return fmt.Sprintf("{pos=%d id=%s stream=%s v=%d type=%s sv=%d time=%s (%v) origin=%s actor=%s corr=%s data=%q}",
		e.Position, e.ID, e.Stream, e.Version, e.Type, e.SchemaVersion, e.Time.Format(time.RFC3339Nano), e.Time.Location(),
		e.OriginNode, e.Actor, e.CorrelationID, []byte(e.Data))
}

// storeState is everything a test compares to prove a store unchanged.
type storeState struct {
	Head    int64
	Index   uint64
	Term    uint64
	Events  []events.Envelope
	Streams map[string]int64
}

func captureState(tb testing.TB, s *eventstore.Store) storeState {
	tb.Helper()
	st := storeState{Head: s.Head(), Events: mustReadAll(tb, s), Streams: map[string]int64{}}
	st.Index, st.Term = mustApplied(tb, s)
	for _, e := range st.Events {
		st.Streams[e.Stream] = max(st.Streams[e.Stream], e.Version)
	}
	return st
}

func requireState(tb testing.TB, s *eventstore.Store, want storeState) {
	tb.Helper()
	got := captureState(tb, s)
	if got.Head != want.Head {
		tb.Errorf("Head: got %d, want %d", got.Head, want.Head)
	}
	if got.Index != want.Index || got.Term != want.Term {
		tb.Errorf("Applied: got (%d, %d), want (%d, %d)", got.Index, got.Term, want.Index, want.Term)
	}
	if !reflect.DeepEqual(got.Streams, want.Streams) {
		tb.Errorf("stream versions: got %v, want %v", got.Streams, want.Streams)
	}
	requireSameEvents(tb, got.Events, want.Events)
	// The streams table must agree with the events: the next version of
	// every stream appends, one more than that conflicts.
	for stream, v := range want.Streams {
		probe := events.Batch{Expect: []events.Expectation{expect(stream, v+1)}, Events: []events.Envelope{newEvent(tb, "probe", stream, v+2)}}
		tx := mustBegin(tb, s)
		_, err := tx.Append(probe)
		tx.Rollback()
		var vc *events.VersionConflictError
		if !errors.As(err, &vc) || vc.Actual != v {
			tb.Errorf("stream %s: probing at version %d: got %v, want a version conflict at %d", stream, v+1, err, v)
		}
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("json: %v", err)
	}
	return b
}

// applyNewStreams applies n batches at Raft indexes from+1 on, each the
// first event (e01, e02, …) of a stream of its own (s-e01, s-e02, …).
func applyNewStreams(tb testing.TB, s *eventstore.Store, n int, from uint64) {
	tb.Helper()
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("e%02d", i)
		mustApply(tb, s, from+uint64(i), events.Batch{Expect: []events.Expectation{{Stream: "s-" + id}}, Events: []events.Envelope{newEvent(tb, id, "s-"+id, 1)}})
	}
}
