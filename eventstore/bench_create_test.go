//go:build unix

package eventstore_test

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// BenchmarkEventStoreCreates applies batches shaped like an appointment
// creation (a new appointment stream and the owner's agenda stream, one
// event each, UUIDv7 IDs), 16 to a transaction as the FSM gets them under
// load. One op is one batch.
func BenchmarkEventStoreCreates(b *testing.B) {
	s := mustOpenStore(b)
	const perTx = 16
	next := createBatches(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var index uint64
	for i := 0; i < b.N; {
		var bs []events.Batch
		for j := 0; j < perTx && i < b.N; j, i = j+1, i+1 {
			bs = append(bs, next(i))
		}
		index++
		applyBatches(b, s, index, bs)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// applyBatches applies bs in one transaction as the FSM applies the Raft
// entry at index.
func applyBatches(b *testing.B, s *eventstore.Store, index uint64, bs []events.Batch) {
	tx, err := s.Begin(b.Context())
	if err != nil {
		b.Fatalf("Begin: %v", err)
	}
	// As the FSM does: look up what the whole Raft batch needs at once.
	if err := tx.Prefetch(bs); err != nil {
		b.Fatalf("Prefetch: %v", err)
	}
	for _, batch := range bs {
		if _, err := tx.Append(batch); err != nil {
			b.Fatalf("Append: %v", err)
		}
	}
	if err := tx.SetApplied(index, 1); err != nil {
		b.Fatalf("SetApplied: %v", err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatalf("Commit: %v", err)
	}
}

// grower returns what appends evs events to s: appointment creations
// (createBatches) of two events each, 512 creations a transaction, each
// call going on where the last stopped.
func grower(b *testing.B, s *eventstore.Store) (grow func(evs int)) {
	next := createBatches(b)
	var index uint64
	var created int
	return func(evs int) {
		for done := 0; done < evs; {
			var bs []events.Batch
			for ; len(bs) < 512 && done < evs; done += 2 {
				bs = append(bs, next(created))
				created++
			}
			index++
			applyBatches(b, s, index, bs)
		}
	}
}

// benchEvents is how many events a benchmark stores: def, or the count in
// the environment variable name.
func benchEvents(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// createBatches returns a generator of batches shaped like an appointment
// creation (a new appointment stream and the owner's agenda stream, one
// event each, UUIDv7 IDs), by 64 users in turn.
func createBatches(b *testing.B) func(i int) events.Batch {
	const users = 64
	versions := make([]int64, users)
	meta := events.Meta{Time: testTime, OriginNode: "node-1", Actor: "user"}
	return func(i int) events.Batch {
		u := i % users
		id := uuid.Must(uuid.NewV7()).String()
		agenda := events.ScheduleStream(fmt.Sprintf("user-%02d", u))
		st := testTime.Add(time.Duration(i) * time.Hour)
		created, err := events.New(uuid.Must(uuid.NewV7()).String(), events.AppointmentStream(id), 1,
			events.AppointmentCreated{AppointmentID: id, OwnerID: "user", Title: "bench", Start: st, End: st.Add(time.Hour),
				Privacy: "full", Status: "confirmed"}, meta)
		if err != nil {
			b.Fatal(err)
		}
		added, err := events.New(uuid.Must(uuid.NewV7()).String(), agenda, versions[u]+1,
			events.AgendaEntryAdded{UserID: "user", AppointmentID: id, Start: st, End: st.Add(time.Hour), Role: "owner"}, meta)
		if err != nil {
			b.Fatal(err)
		}
		versions[u]++
		return events.Batch{Expect: []events.Expectation{expect(events.AppointmentStream(id), 0), expect(agenda, versions[u]-1)},
			Events: []events.Envelope{created, added}}
	}
}

// cpuTime is the process's user and system CPU time so far: on a shared
// machine it says more about cost than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
