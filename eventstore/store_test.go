package eventstore_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

func TestOpenEmptyStore(t *testing.T) {
	s := mustOpenStore(t)
	if got := s.Head(); got != 0 {
		t.Errorf("Head: got %d, want 0", got)
	}
	if index, term := mustApplied(t, s); index != 0 || term != 0 {
		t.Errorf("Applied: got (%d, %d), want (0, 0)", index, term)
	}
	if got := mustReadAll(t, s); len(got) != 0 {
		t.Errorf("Read: got %d events, want none", len(got))
	}
}

func TestAppendAssignsDensePositions(t *testing.T) {
	s := mustOpenStore(t)
	tx := mustBegin(t, s)
	batches := []events.Batch{
		streamBatch(t, "a", 0, 1),
		streamBatch(t, "b", 0, 3),
		streamBatch(t, "a", 1, 2),
	}
	want := []events.Committed{
		{FirstPosition: 1, LastPosition: 1},
		{FirstPosition: 2, LastPosition: 4},
		{FirstPosition: 5, LastPosition: 6},
	}
	for i, b := range batches {
		if got := mustAppend(t, tx, b); got != want[i] {
			t.Errorf("batch %d: got %+v, want %+v", i, got, want[i])
		}
	}
	mustCommit(t, tx)

	// A second transaction continues where the first stopped.
	tx = mustBegin(t, s)
	if got, want := mustAppend(t, tx, streamBatch(t, "c", 0, 2)), (events.Committed{FirstPosition: 7, LastPosition: 8}); got != want {
		t.Errorf("batch in second tx: got %+v, want %+v", got, want)
	}
	mustCommit(t, tx)

	if got := s.Head(); got != 8 {
		t.Errorf("Head: got %d, want 8", got)
	}
	all := mustReadAll(t, s)
	if got, want := positions(all), []int64{1, 2, 3, 4, 5, 6, 7, 8}; !reflect.DeepEqual(got, want) {
		t.Errorf("positions: got %v, want %v", got, want)
	}
	if got, want := ids(all), []string{"a@1", "b@1", "b@2", "b@3", "a@2", "a@3", "c@1", "c@2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ids in position order: got %v, want %v", got, want)
	}
}

func TestHeadSurvivesReopen(t *testing.T) {
	s, path := mustOpenStoreFile(t)
	mustApply(t, s, 4, streamBatch(t, "a", 0, 3))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = mustOpenStoreAt(t, path)
	if got := s.Head(); got != 3 {
		t.Errorf("Head after reopen: got %d, want 3", got)
	}
	if index, term := mustApplied(t, s); index != 4 || term != 1 {
		t.Errorf("Applied after reopen: got (%d, %d), want (4, 1)", index, term)
	}
	c := mustApply(t, s, 5, streamBatch(t, "a", 3, 1))
	if want := (events.Committed{FirstPosition: 4, LastPosition: 4}); c[0] != want {
		t.Errorf("append after reopen: got %+v, want %+v", c[0], want)
	}
}

func TestAppendExpectations(t *testing.T) {
	// History: a@1 (pos 1), b@1 (pos 2), a@2 (pos 3). The last event of
	// "a" is at position 3, of "b" at position 2.
	setup := func(t *testing.T) *eventstore.Store {
		s := mustOpenStore(t)
		mustApply(t, s, 1, streamBatch(t, "a", 0, 1), streamBatch(t, "b", 0, 1), streamBatch(t, "a", 1, 1))
		return s
	}

	tests := []struct {
		name  string
		batch func(t *testing.T) events.Batch
		// wantConflict is nil when the batch must commit.
		wantConflict *events.VersionConflictError
	}{
		{
			name:  "new stream expected at 0",
			batch: func(t *testing.T) events.Batch { return streamBatch(t, "c", 0, 1) },
		},
		{
			name:  "existing stream expected at its version",
			batch: func(t *testing.T) events.Batch { return streamBatch(t, "a", 2, 2) },
		},
		{
			name:         "existing stream expected at 0",
			batch:        func(t *testing.T) events.Batch { return streamBatchIDs(t, "stale-", "a", 0, 1) },
			wantConflict: &events.VersionConflictError{Stream: "a", Expected: 0, Actual: 2, Position: 3},
		},
		{
			name:         "existing stream expected at a stale version",
			batch:        func(t *testing.T) events.Batch { return streamBatchIDs(t, "stale-", "a", 1, 1) },
			wantConflict: &events.VersionConflictError{Stream: "a", Expected: 1, Actual: 2, Position: 3},
		},
		{
			name:         "existing stream expected ahead of its version",
			batch:        func(t *testing.T) events.Batch { return streamBatch(t, "b", 5, 1) },
			wantConflict: &events.VersionConflictError{Stream: "b", Expected: 5, Actual: 1, Position: 2},
		},
		{
			name:         "new stream expected at 1",
			batch:        func(t *testing.T) events.Batch { return streamBatch(t, "c", 1, 1) },
			wantConflict: &events.VersionConflictError{Stream: "c", Expected: 1, Actual: 0, Position: 0},
		},
		{
			name: "guard on a stream not written holds",
			batch: func(t *testing.T) events.Batch {
				b := streamBatch(t, "c", 0, 1)
				b.Expect = append(b.Expect, expect("b", 1))
				return b
			},
		},
		{
			name: "guard on a stream not written fails",
			batch: func(t *testing.T) events.Batch {
				b := streamBatch(t, "c", 0, 1)
				b.Expect = append(b.Expect, expect("b", 0))
				return b
			},
			wantConflict: &events.VersionConflictError{Stream: "b", Expected: 0, Actual: 1, Position: 2},
		},
		{
			name: "second of two written streams conflicts",
			batch: func(t *testing.T) events.Batch {
				b := streamBatch(t, "c", 0, 1)
				other := streamBatchIDs(t, "stale-", "b", 0, 1)
				b.Events = append(b.Events, other.Events...)
				b.Expect = append(b.Expect, other.Expect...)
				return b
			},
			wantConflict: &events.VersionConflictError{Stream: "b", Expected: 0, Actual: 1, Position: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := setup(t)
			before := captureState(t, s)
			b := tt.batch(t)
			err := appendAndCommit(t, s, b)
			if tt.wantConflict == nil {
				if err != nil {
					t.Fatalf("Append: got %v, want success", err)
				}
				if got, want := s.Head(), before.Head+int64(len(b.Events)); got != want {
					t.Fatalf("Head: got %d, want %d", got, want)
				}
				return
			}
			var vc *events.VersionConflictError
			if !errors.As(err, &vc) {
				t.Fatalf("Append: got %v (%T), want *events.VersionConflictError", err, err)
			}
			if *vc != *tt.wantConflict {
				t.Fatalf("conflict: got %+v, want %+v", *vc, *tt.wantConflict)
			}
			requireState(t, s, before)
		})
	}
}

func TestRejectedBatchLeavesNoTrace(t *testing.T) {
	s := mustOpenStore(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 2))
	before := captureState(t, s)

	tx := mustBegin(t, s)
	first := mustAppend(t, tx, streamBatch(t, "b", 0, 2))
	if want := (events.Committed{FirstPosition: 3, LastPosition: 4}); first != want {
		t.Fatalf("first batch: got %+v, want %+v", first, want)
	}

	rejected := []struct {
		name  string
		batch events.Batch
		check func(error) bool
	}{
		{
			name:  "version conflict",
			batch: streamBatchIDs(t, "stale-", "a", 0, 1),
			check: func(err error) bool { var vc *events.VersionConflictError; return errors.As(err, &vc) },
		},
		{
			name: "conflict on the second stream after a good first stream",
			batch: func() events.Batch {
				b := streamBatch(t, "c", 0, 2)
				bad := streamBatchIDs(t, "stale-", "b", 1, 1) // b is at 2 inside this tx
				b.Events = append(b.Events, bad.Events...)
				b.Expect = append(b.Expect, bad.Expect...)
				return b
			}(),
			check: func(err error) bool { var vc *events.VersionConflictError; return errors.As(err, &vc) },
		},
		{
			name: "last event duplicates a committed one",
			batch: func() events.Batch {
				b := streamBatch(t, "c", 0, 3)
				b.Events[2].ID = "a@1"
				return b
			}(),
			check: func(err error) bool { var d *events.DuplicateEventError; return errors.As(err, &d) },
		},
		{
			name: "event duplicates one appended earlier in this tx",
			batch: func() events.Batch {
				b := streamBatch(t, "c", 0, 2)
				b.Events[1].ID = "b@2"
				return b
			}(),
			check: func(err error) bool { var d *events.DuplicateEventError; return errors.As(err, &d) },
		},
		{
			name:  "malformed",
			batch: events.Batch{Expect: []events.Expectation{expect("c", 0)}, Events: []events.Envelope{newEvent(t, "c@2", "c", 2)}},
			check: func(err error) bool { return errors.Is(err, events.ErrMalformed) },
		},
	}
	for _, r := range rejected {
		_, err := tx.Append(r.batch)
		if !r.check(err) {
			t.Fatalf("%s: got %v (%T), want it rejected", r.name, err, err)
		}
	}

	// Later batches in the same transaction carry on from the last accepted one.
	second := mustAppend(t, tx, streamBatch(t, "c", 0, 3))
	if want := (events.Committed{FirstPosition: 5, LastPosition: 7}); second != want {
		t.Fatalf("batch after rejections: got %+v, want %+v", second, want)
	}
	third := mustAppend(t, tx, streamBatch(t, "b", 2, 1))
	if want := (events.Committed{FirstPosition: 8, LastPosition: 8}); third != want {
		t.Fatalf("second batch after rejections: got %+v, want %+v", third, want)
	}
	mustCommit(t, tx)

	want := before
	want.Head = 8
	want.Events = append(append([]events.Envelope(nil), before.Events...), mustReadAll(t, s)[2:]...)
	want.Streams = map[string]int64{"a": 2, "b": 3, "c": 3}
	requireState(t, s, want)
	if got, wantIDs := ids(mustReadAll(t, s)), []string{"a@1", "a@2", "b@1", "b@2", "c@1", "c@2", "c@3", "b@3"}; !reflect.DeepEqual(got, wantIDs) {
		t.Fatalf("ids: got %v, want %v", got, wantIDs)
	}
}

func TestRejectedBatchAloneChangesNothing(t *testing.T) {
	s := mustOpenStore(t)
	mustApply(t, s, 3, streamBatch(t, "a", 0, 2))
	before := captureState(t, s)
	_, ch := s.Watch()

	tx := mustBegin(t, s)
	var vc *events.VersionConflictError
	if _, err := tx.Append(streamBatchIDs(t, "stale-", "a", 0, 1)); !errors.As(err, &vc) {
		t.Fatalf("Append with a stale expectation: got %v (%T), want *events.VersionConflictError", err, err)
	}
	mustCommit(t, tx)

	requireState(t, s, before)
	select {
	case <-ch:
		t.Fatal("Watch channel closed by a commit that added nothing")
	default:
	}
}

func TestAppendDuplicateEventID(t *testing.T) {
	s := mustOpenStore(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 1), streamBatch(t, "b", 0, 2))

	tests := []struct {
		name    string
		batch   events.Batch
		wantDup events.DuplicateEventError
	}{
		{
			name: "new stream reusing a committed id",
			batch: func() events.Batch {
				b := streamBatch(t, "c", 0, 1)
				b.Events[0].ID = "b@2"
				return b
			}(),
			wantDup: events.DuplicateEventError{EventID: "b@2", Position: 3},
		},
		{
			name: "right expectation, second event reuses a committed id",
			batch: func() events.Batch {
				b := streamBatch(t, "a", 1, 2)
				b.Events[1].ID = "a@1"
				return b
			}(),
			wantDup: events.DuplicateEventError{EventID: "a@1", Position: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := captureState(t, s)
			err := appendAndCommit(t, s, tt.batch)
			var dup *events.DuplicateEventError
			if !errors.As(err, &dup) {
				t.Fatalf("Append: got %v (%T), want *events.DuplicateEventError", err, err)
			}
			if *dup != tt.wantDup {
				t.Fatalf("duplicate: got %+v, want %+v", *dup, tt.wantDup)
			}
			requireState(t, s, before)
		})
	}
}

// TestRetriedBatchIsDuplicate pins the contract of events.ErrOutcomeUnknown:
// proposing the very same batch again after it committed must fail with a
// DuplicateEventError, so the caller learns its batch is in the log.
func TestRetriedBatchIsDuplicate(t *testing.T) {
	s := mustOpenStore(t)
	b := streamBatch(t, "a", 0, 2)
	mustApply(t, s, 1, b)
	before := captureState(t, s)

	// The retry's expectation is stale too: the duplicate must win, since
	// Append checks event IDs before expectations.
	err := appendAndCommit(t, s, b)
	var dup *events.DuplicateEventError
	if !errors.As(err, &dup) {
		t.Fatalf("retry: got %v (%T), want *events.DuplicateEventError", err, err)
	}
	if want := (events.DuplicateEventError{EventID: "a@1", Position: 1}); *dup != want {
		t.Fatalf("duplicate: got %+v, want %+v", *dup, want)
	}
	requireState(t, s, before)
}

func TestAppendMalformed(t *testing.T) {
	tests := []struct {
		name  string
		batch events.Batch
	}{
		{name: "empty batch", batch: events.Batch{Expect: []events.Expectation{expect("a", 0)}}},
		{
			name:  "version gap after expectation",
			batch: events.Batch{Expect: []events.Expectation{expect("a", 0)}, Events: []events.Envelope{newEvent(t, "a@2", "a", 2)}},
		},
		{
			name: "version gap inside the batch",
			batch: events.Batch{Expect: []events.Expectation{expect("a", 0)}, Events: []events.Envelope{
				newEvent(t, "a@1", "a", 1), newEvent(t, "a@3", "a", 3),
			}},
		},
		{
			name:  "stream written without expectation",
			batch: events.Batch{Events: []events.Envelope{newEvent(t, "a@1", "a", 1)}},
		},
		{
			name: "same id twice in the batch",
			batch: func() events.Batch {
				b := streamBatch(t, "a", 0, 2)
				b.Events[1].ID = b.Events[0].ID
				return b
			}(),
		},
		{
			name: "envelope without data",
			batch: func() events.Batch {
				b := streamBatch(t, "a", 0, 1)
				b.Events[0].Data = nil
				return b
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpenStore(t)
			before := captureState(t, s)
			err := appendAndCommit(t, s, tt.batch)
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("Append: got %v, want an error wrapping %v", err, events.ErrMalformed)
			}
			requireState(t, s, before)
		})
	}
}

func TestAppliedRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, path := mustOpenStoreFile(t)

	tx := mustBegin(t, s)
	if got := tx.Applied(); got != 0 {
		t.Fatalf("Tx.Applied on a new store: got %d, want 0", got)
	}
	if err := tx.SetApplied(42, 7); err != nil {
		t.Fatalf("SetApplied: %v", err)
	}
	if got := tx.Applied(); got != 42 {
		t.Fatalf("Tx.Applied after SetApplied: got %d, want 42", got)
	}
	// Readers do not see it before the commit.
	if index, term := mustApplied(t, s); index != 0 || term != 0 {
		t.Fatalf("Store.Applied before commit: got (%d, %d), want (0, 0)", index, term)
	}
	mustCommit(t, tx)
	if index, term := mustApplied(t, s); index != 42 || term != 7 {
		t.Fatalf("Store.Applied after commit: got (%d, %d), want (42, 7)", index, term)
	}

	// A rolled back SetApplied is forgotten.
	tx = mustBegin(t, s)
	if err := tx.SetApplied(50, 8); err != nil {
		t.Fatalf("SetApplied: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if index, term := mustApplied(t, s); index != 42 || term != 7 {
		t.Fatalf("Store.Applied after rollback: got (%d, %d), want (42, 7)", index, term)
	}

	// Large indexes survive the int64 column.
	tx = mustBegin(t, s)
	const big = uint64(1) << 62
	if err := tx.SetApplied(big, big-1); err != nil {
		t.Fatalf("SetApplied: %v", err)
	}
	mustCommit(t, tx)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = mustOpenStoreAt(t, path)
	index, term, err := s.Applied(ctx)
	if err != nil || index != big || term != big-1 {
		t.Fatalf("Applied after reopen: got (%d, %d, %v), want (%d, %d, nil)", index, term, err, big, big-1)
	}
}

func TestCommitWakesWatchers(t *testing.T) {
	s := mustOpenStore(t)
	head, changed := s.Watch()
	if head != 0 {
		t.Fatalf("Watch head: got %d, want 0", head)
	}

	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		waited <- s.WaitFor(ctx, 3)
	}()

	// A commit that stops short of 3 wakes Watch but not WaitFor(3).
	tx := mustBegin(t, s)
	mustAppend(t, tx, streamBatch(t, "a", 0, 2))
	select {
	case <-changed:
		t.Fatal("Watch channel closed before Commit")
	default:
	}
	mustCommit(t, tx)
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch channel not closed by Commit")
	}
	if got := s.Head(); got != 2 {
		t.Fatalf("Head: got %d, want 2", got)
	}
	select {
	case err := <-waited:
		t.Fatalf("WaitFor(3) returned at head 2: %v", err)
	case <-time.After(50 * time.Millisecond):
	}

	head, changed = s.Watch()
	if head != 2 {
		t.Fatalf("Watch head: got %d, want 2", head)
	}
	mustApply(t, s, 1, streamBatch(t, "a", 2, 1))
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("WaitFor(3): %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitFor(3) not woken by the commit that reached 3")
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("second Watch channel not closed by Commit")
	}
}

func TestRollbackDoesNotAdvance(t *testing.T) {
	s := mustOpenStore(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 1))
	before := captureState(t, s)
	head, changed := s.Watch()

	tx := mustBegin(t, s)
	mustAppend(t, tx, streamBatch(t, "a", 1, 2))
	if err := tx.SetApplied(9, 9); err != nil {
		t.Fatalf("SetApplied: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	select {
	case <-changed:
		t.Fatal("Watch channel closed by Rollback")
	default:
	}
	if got := s.Head(); got != head {
		t.Fatalf("Head after Rollback: got %d, want %d", got, head)
	}
	requireState(t, s, before)

	// The same batch can then be applied: the rollback left nothing behind.
	c := mustApply(t, s, 2, streamBatch(t, "a", 1, 2))
	if want := (events.Committed{FirstPosition: 2, LastPosition: 3}); c[0] != want {
		t.Fatalf("append after rollback: got %+v, want %+v", c[0], want)
	}
}

func TestWaitFor(t *testing.T) {
	s := mustOpenStore(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 2))

	t.Run("position already reached", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, p := range []int64{0, 1, 2} {
			if err := s.WaitFor(ctx, p); err != nil {
				t.Fatalf("WaitFor(%d) at head 2: %v", p, err)
			}
		}
	})
	t.Run("context ends first", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if err := s.WaitFor(ctx, 3); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitFor(3) at head 2: got %v, want %v", err, context.DeadlineExceeded)
		}
	})
	t.Run("many waiters woken by one commit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() { errs <- s.WaitFor(ctx, 4) })
		}
		mustApply(t, s, 2, streamBatch(t, "a", 2, 2))
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("WaitFor(4): %v", err)
			}
		}
	})
}

// A streams row whose position holds no event (written around the store)
// is a storage error, not a new stream: the streams table alone keeps a
// stream's versions unique, so it must not silently forget one.
func TestStreamWithoutItsEventIsAnError(t *testing.T) {
	s, path := mustOpenStoreFile(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 2))
	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("UPDATE streams SET position = 99"); err != nil {
		t.Fatal(err)
	}
	tx := mustBegin(t, s)
	_, err = tx.Append(streamBatch(t, "a", 0, 1))
	var conflict *events.VersionConflictError
	if err == nil || errors.As(err, &conflict) || !strings.Contains(err.Error(), "holds no event") {
		t.Fatalf("Append on a stream whose last event is missing: got %v, want a storage error", err)
	}
	// The transaction is broken: what the look-up read is trusted by
	// nothing after it.
	if _, err := tx.Append(streamBatchIDs(t, "x", "a", 2, 1)); err == nil {
		t.Error("a second Append in the broken transaction was accepted")
	}
	if err := tx.Commit(); err == nil {
		t.Error("the broken transaction committed")
	}
}

// TestEventsAreAppendOnly goes around the store's API: the database itself
// refuses to change or remove an event.
func TestEventsAreAppendOnly(t *testing.T) {
	s, path := mustOpenStoreFile(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 2))
	before := captureState(t, s)

	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatalf("open raw database: %v", err)
	}
	defer raw.Close()

	tests := []struct {
		name string
		stmt string
	}{
		{name: "update one field", stmt: "UPDATE events SET actor = 'mallory' WHERE position = 1"},
		{name: "update every row", stmt: "UPDATE events SET data = x'7b7d'"},
		{name: "move a position", stmt: "UPDATE events SET position = 100 WHERE position = 2"},
		{name: "delete one", stmt: "DELETE FROM events WHERE position = 2"},
		{name: "delete all", stmt: "DELETE FROM events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw.Exec(tt.stmt)
			if err == nil {
				t.Fatalf("%s: got no error, want the database to refuse it", tt.stmt)
			}
			requireState(t, s, before)
		})
	}
	t.Run("conflict resolution REPLACE", func(t *testing.T) {
		// REPLACE deletes the conflicting row without firing DELETE
		// triggers (unless recursive_triggers is on), so it slips past
		// events_no_delete.
		for _, stmt := range []string{
			"INSERT OR REPLACE INTO events SELECT position, 'forged', stream, version, type, schema_version, time, origin_node, actor, correlation_id, data FROM events WHERE position = 1",
			"REPLACE INTO events SELECT 99, id, stream, version, type, schema_version, time, origin_node, 'mallory', correlation_id, data FROM events WHERE position = 2",
		} {
			_, err := raw.Exec(stmt)
			if err == nil {
				t.Fatalf("%s: got no error, want the events_no_replace trigger to refuse it", stmt)
			}
			if !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: got %v, want an error mentioning append-only", stmt, err)
			}
			requireState(t, s, before)
		}
	})
	t.Run("error says why", func(t *testing.T) {
		_, err := raw.Exec("DELETE FROM events")
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("DELETE: got %v, want an error mentioning append-only", err)
		}
	})
}
