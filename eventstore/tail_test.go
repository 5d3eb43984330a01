package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// TestTailReadsMatchTheDatabase checks that reads served from the in-memory
// tail of recent events return exactly what the same reads return from
// SQLite: a second store opened on the same file has an empty tail, so it
// reads everything from the database.
func TestTailReadsMatchTheDatabase(t *testing.T) {
	ctx := context.Background()
	s, path := mustOpenStoreFile(t)
	var index uint64
	for i := 0; i < 20; i++ {
		index++
		agenda := events.ScheduleStream("user-1")
		id := fmt.Sprintf("appt-%d", i)
		added, err := events.New(fmt.Sprintf("entry-%d", i), agenda, int64(i+1), events.AgendaEntryAdded{
			UserID: "user-1", AppointmentID: id, Start: testTime, End: testTime.Add(time.Hour), Role: "owner",
		}, events.Meta{Time: testTime.Add(time.Duration(i) * time.Nanosecond), OriginNode: "node-1", Actor: "user-1"})
		if err != nil {
			t.Fatalf("events.New: %v", err)
		}
		b := streamBatch(t, fmt.Sprintf("s%d", i), 0, 1+i%3)
		b.Expect = append(b.Expect, expect(agenda, int64(i)))
		b.Events = append(b.Events, added)
		mustApply(t, s, index, b)
	}
	head := s.Head()
	db := mustOpenStoreAt(t, path)
	if db.Head() != head {
		t.Fatalf("second store: head %d, want %d", db.Head(), head)
	}

	for _, after := range []int64{-1, 0, 1, 5, head - 3, head - 1, head, head + 2} {
		for _, limit := range []int{1, 2, 7, 1000} {
			got, err := s.Read(ctx, after, limit)
			if err != nil {
				t.Fatalf("Read(%d, %d): %v", after, limit, err)
			}
			want, err := db.Read(ctx, after, limit)
			if err != nil {
				t.Fatalf("Read(%d, %d) from the database: %v", after, limit, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Read(%d, %d): tail gives %v, database %v", after, limit, positions(got), positions(want))
			}
		}
	}
	typeSets := [][]string{{"agenda.entry_added"}, {"appointment.deleted"}, {"appointment.deleted", "agenda.entry_added"}, {"user.registered"}}
	for _, types := range typeSets {
		for _, after := range []int64{0, 3, head - 4, head} {
			for _, upTo := range []int64{after + 1, after + 6, head, head + 5} {
				for _, limit := range []int{1, 3, 1000} {
					got, gotTo, err := s.ReadTypes(ctx, after, upTo, limit, types)
					if err != nil {
						t.Fatalf("ReadTypes: %v", err)
					}
					want, wantTo, err := db.ReadTypes(ctx, after, upTo, limit, types)
					if err != nil {
						t.Fatalf("ReadTypes from the database: %v", err)
					}
					if !reflect.DeepEqual(got, want) || gotTo != wantTo {
						t.Errorf("ReadTypes(%d, %d, %d, %v): tail gives %v up to %d, database %v up to %d",
							after, upTo, limit, types, positions(got), gotTo, positions(want), wantTo)
					}
				}
			}
		}
	}

	// What a reader gets is its own: changing it leaves the tail intact.
	got, err := s.Read(ctx, 0, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("Read(0, 1): %v, %v", got, err)
	}
	got[0].Data[0] = 'X'
	again, _ := s.Read(ctx, 0, 1)
	want, _ := db.Read(ctx, 0, 1)
	if !reflect.DeepEqual(again, want) {
		t.Errorf("after a reader changed its copy, Read(0, 1) = %s, want %s", again[0].Data, want[0].Data)
	}
}

// TestTailSlides checks that reads before the in-memory window still come
// from the database, after more events than the window holds.
func TestTailSlides(t *testing.T) {
	s, path := mustOpenStoreFile(t)
	const n = 5000 // more than the tail holds
	var index uint64
	for from := int64(0); from < n; from += 250 {
		index++
		mustApply(t, s, index, streamBatch(t, "a", from, 250))
	}
	db := mustOpenStoreAt(t, path)
	for _, after := range []int64{0, 100, n - 2100, n - 2048, n - 2047, n - 10} {
		got, want := mustReadBoth(t, s, db, after, 300)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Read(%d, 300): got %d events from %v, want %d from %v", after, len(got), positions(got[:1]), len(want), positions(want[:1]))
		}
	}
}

// TestTailAfterCommitsOfAnySize checks that, whatever the sizes of the
// commits that filled it (a commit larger than the tail, a small one
// followed by a large one, runs that make it slide), the tail never serves
// a read differently from the database: a commit it cannot hold whole must
// not leave a gap in it.
func TestTailAfterCommitsOfAnySize(t *testing.T) {
	for _, sizes := range [][]int{{100, 3000}, {2000, 2049}, {1, 4096}, {3000, 10, 3000}, {1000, 1000, 1000, 1000, 1000}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			s, path := mustOpenStoreFile(t)
			var head int64
			for i, n := range sizes {
				mustApply(t, s, uint64(i+1), streamBatch(t, "a", head, n))
				head += int64(n)
			}
			db := mustOpenStoreAt(t, path)
			for after := int64(0); after <= head; after += 37 {
				got, want := mustReadBoth(t, s, db, after, 50)
				if !reflect.DeepEqual(positions(got), positions(want)) {
					t.Fatalf("Read(%d, 50): tail gives %v, database %v", after, positions(got), positions(want))
				}
			}
		})
	}
}

// TestPrefetchedRunMatchesOneByOne checks that a run of batches checked
// against what one transaction looked up in bulk (Prefetch) and wrote
// itself gets the same verdicts, and leaves the same store, as the same
// batches applied one transaction each with every check read from SQLite.
func TestPrefetchedRunMatchesOneByOne(t *testing.T) {
	prefix := func(b events.Batch, p string) events.Batch {
		b.Events = append([]events.Envelope(nil), b.Events...)
		for i := range b.Events {
			b.Events[i].ID = p + b.Events[i].ID
		}
		return b
	}
	run := []events.Batch{
		streamBatch(t, "new", 0, 2),                 // a new stream
		streamBatch(t, "new", 2, 1),                 // follows the run's own write
		streamBatchIDs(t, "stale-", "new", 1, 1),    // conflicts with the run's own write
		streamBatch(t, "old", 1, 1),                 // follows a committed stream
		streamBatchIDs(t, "stale-", "old", 0, 1),    // conflicts with a committed stream
		streamBatch(t, "new", 0, 2),                 // duplicates the run's first batch
		prefix(streamBatch(t, "old", 0, 1), "x-"),   // stale, fresh IDs
		streamBatch(t, "old", 0, 1),                 // duplicates a committed event
		streamBatch(t, "other", 0, 1),               // independent
		prefix(streamBatch(t, "other", 1, 2), "y-"), // follows it
	}
	two := events.Batch{Expect: []events.Expectation{expect("new", 3), expect("old", 2)},
		Events: []events.Envelope{newEvent(t, "both-1", "new", 4), newEvent(t, "both-2", "old", 3)}}
	run = append(run, two)

	bulk, one := mustOpenStore(t), mustOpenStore(t)
	for _, s := range []*eventstore.Store{bulk, one} {
		mustApply(t, s, 1, streamBatch(t, "old", 0, 1))
	}

	tx := mustBegin(t, bulk)
	if err := tx.Prefetch(run); err != nil {
		t.Fatalf("Prefetch: %v", err)
	}
	var bulkResults []string
	for _, b := range run {
		c, err := tx.Append(b)
		bulkResults = append(bulkResults, verdict(c, err))
	}
	if err := tx.SetApplied(2, 1); err != nil {
		t.Fatalf("SetApplied: %v", err)
	}
	mustCommit(t, tx)

	for i, b := range run {
		tx := mustBegin(t, one)
		c, err := tx.Append(b)
		if err := tx.SetApplied(2, 1); err != nil {
			t.Fatalf("SetApplied: %v", err)
		}
		mustCommit(t, tx)
		if got := verdict(c, err); got != bulkResults[i] {
			t.Errorf("batch %d: in a run %s, alone %s", i, bulkResults[i], got)
		}
	}
	requireState(t, bulk, captureState(t, one))
}

// verdict describes what Append answered, for comparison.
func verdict(c events.Committed, err error) string {
	var vc *events.VersionConflictError
	var dup *events.DuplicateEventError
	switch {
	case err == nil:
		return fmt.Sprintf("committed %d-%d", c.FirstPosition, c.LastPosition)
	case errors.As(err, &vc):
		return fmt.Sprintf("conflict on %s: expected %d, at %d (position %d)", vc.Stream, vc.Expected, vc.Actual, vc.Position)
	case errors.As(err, &dup):
		return fmt.Sprintf("duplicate %s at %d", dup.EventID, dup.Position)
	default:
		return "error: " + err.Error()
	}
}

// TestReadTypesDecodedHandsOverWhatTheFSMDecoded checks that the events
// AppendDecoded was given come back with their envelopes from the tail, and
// are what DecodeWith(json.Unmarshal) makes of those envelopes; events appended
// without them, or read from SQLite, come back nil (the projector decodes
// those itself).
func TestReadTypesDecodedHandsOverWhatTheFSMDecoded(t *testing.T) {
	ctx := context.Background()
	s, path := mustOpenStoreFile(t)
	decodedBatch := streamBatch(t, "with", 0, 3)
	var evs []events.Event
	for i := range decodedBatch.Events {
		ev, err := decodedBatch.Events[i].Decode()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	tx := mustBegin(t, s)
	mustAppend(t, tx, streamBatch(t, "without", 0, 2))
	if _, err := tx.AppendDecoded(decodedBatch, evs); err != nil {
		t.Fatalf("AppendDecoded: %v", err)
	}
	if err := tx.SetApplied(1, 1); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, tx)

	types := []string{decodedBatch.Events[0].Type}
	envs, got, to, err := s.ReadTypesDecoded(ctx, 0, s.Head(), 100, types)
	if err != nil || to != s.Head() || len(envs) != 5 || len(got) != 5 {
		t.Fatalf("ReadTypesDecoded = %d events, %d decoded, to %d, %v; want 5, 5, %d", len(envs), len(got), to, err, s.Head())
	}
	for i := range envs {
		if i < 2 {
			if got[i] != nil {
				t.Errorf("event %d, appended without its decoded event, came back with %v", i, got[i])
			}
			continue
		}
		want, err := envs[i].DecodeWith(json.Unmarshal)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("event %d: handed over %#v, DecodeWith(json.Unmarshal) gives %#v", i, got[i], want)
		}
	}
	// A store with an empty tail reads SQLite: nothing is decoded.
	envs, got, _, err = mustOpenStoreAt(t, path).ReadTypesDecoded(ctx, 0, s.Head(), 100, types)
	if err != nil || len(envs) != 5 || got != nil {
		t.Fatalf("from SQLite: %d events, decoded %v, %v; want 5 and none", len(envs), got, err)
	}
}

// mustReadBoth reads the same range from s, whose tail may serve it, and
// from db, a second store on the same file, which reads it from SQLite.
func mustReadBoth(t *testing.T, s, db *eventstore.Store, after int64, limit int) (got, want []events.Envelope) {
	t.Helper()
	got, err := s.Read(context.Background(), after, limit)
	if err != nil {
		t.Fatalf("Read(%d): %v", after, err)
	}
	want, err = db.Read(context.Background(), after, limit)
	if err != nil {
		t.Fatalf("Read(%d) from the database: %v", after, err)
	}
	return got, want
}
