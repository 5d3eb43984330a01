package projections_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// catchUpEvents is the size of the history a fresh projector catches up on.
const catchUpEvents = 100_000

// fillStore appends n events of a realistic mix to store: users registering
// (user.registered + username.claimed), then appointments created with an
// agenda entry for the owner and, for every fourth one, a second
// participant. Batches are committed a thousand to a transaction, as the
// Raft FSM's ApplyBatch would. It returns the head position.
func fillStore(tb testing.TB, store *eventstore.Store, n int) int64 {
	tb.Helper()
	l := newEventLog(tb, store)
	const users = 2000
	roles := []string{agenda.RolePending, agenda.RoleAccepted, agenda.RoleAuto, agenda.RoleDeclined}
	day := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	var pending []events.Batch
	var head int64
	count := 0
	flush := func() {
		if len(pending) > 0 {
			head = l.commit(pending...)
			pending = pending[:0]
		}
	}
	for i := 0; count < n; i++ {
		var b events.Batch
		switch {
		case i < users && count+2 <= n:
			id := fmt.Sprintf("u%05d", i)
			b = l.batch("node-a", registerUser(id, "user"+id, fmt.Sprintf("User %d", i))...)
		default:
			owner := fmt.Sprintf("u%05d", i%users)
			start := day.Add(time.Duration(i) * 37 * time.Minute)
			others := map[string]string{}
			if i%4 == 0 && count+3 <= n {
				others[fmt.Sprintf("u%05d", (i+7)%users)] = roles[i%len(roles)]
			}
			ws := createAppointment(fmt.Sprintf("a%07d", i), owner, start, start.Add(30*time.Minute), others)
			if count+len(ws) > n {
				ws = ws[:n-count] // the last batch: just the appointment
			}
			b = l.batch([]string{"node-a", "node-b", "node-c"}[i%3], ws...)
		}
		count += len(b.Events)
		pending = append(pending, b)
		if len(pending) == 1000 {
			flush()
		}
	}
	flush()
	if head != int64(n) {
		tb.Fatalf("filled the store to position %d, want %d", head, n)
	}
	return head
}

// BenchmarkProjectorCatchUp times a fresh projector (both projections)
// catching up from an empty read model to the head of a 100,000-event store.
// Target: at least 50,000 events/s.
func BenchmarkProjectorCatchUp(b *testing.B) {
	store := mustOpenStore(b)
	head := fillStore(b, store, catchUpEvents)
	dir := b.TempDir()
	b.ResetTimer()
	var total, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		rm := mustOpenReadModel(b, filepath.Join(dir, fmt.Sprintf("readmodel-%d.db", i)))
		b.StartTimer()

		began, cpu0 := time.Now(), cpuTime()
		p := startProjector(b, store, rm)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := rm.WaitFor(ctx, head); err != nil {
			b.Fatalf("projector did not catch up to %d (at %d): %v", head, rm.Position(), err)
		}
		cancel()
		total += time.Since(began)
		cpu += cpuTime() - cpu0

		b.StopTimer()
		p.stop(b)
		rm.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(catchUpEvents)*float64(b.N)/total.Seconds(), "events/s")
	// What projecting costs, whatever else runs on the shared machine.
	b.ReportMetric(float64(catchUpEvents)*float64(b.N)/cpu.Seconds(), "events/cpu-s")
}

// filledStore opens an event store filled with n events by fillStore. With
// AGENDA_BENCH_STORE_DIR set, the filled store is kept there and copied on
// later runs, which spares A/B comparisons the minute it takes to fill a
// million events.
func filledStore(b *testing.B, n int) (*eventstore.Store, int64) {
	b.Helper()
	dir := os.Getenv("AGENDA_BENCH_STORE_DIR")
	if dir == "" {
		store := mustOpenStore(b)
		return store, fillStore(b, store, n)
	}
	// The name changes with fillStore's history (v2: a group appointment's
	// participants before its entries).
	kept := filepath.Join(dir, fmt.Sprintf("events-v2-%d.db", n))
	if _, err := os.Stat(kept); err != nil {
		s, err := eventstore.Open(context.Background(), kept+".filling")
		if err != nil {
			b.Fatal(err)
		}
		fillStore(b, s, n)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(kept+".filling", kept); err != nil {
			b.Fatal(err)
		}
	}
	data, err := os.ReadFile(kept)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "events.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	store, err := eventstore.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if store.Head() != int64(n) {
		b.Fatalf("kept store %s is at %d, want %d", kept, store.Head(), n)
	}
	return store, int64(n)
}

// rebuildEvents is the history of the rebuild benchmarks
// (AGENDA_BENCH_EVENTS overrides it, for profiling on a smaller store).
var rebuildEvents = func() int {
	if n, err := strconv.Atoi(os.Getenv("AGENDA_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

// BenchmarkRebuildOffline1M times `agenda projections rebuild` on a stopped
// node: every projection rebuilt into a new file (RebuildOffline) from a
// 1,000,000-event store, no live projector. Target: ≥ 100,000 events/s.
func BenchmarkRebuildOffline1M(b *testing.B) {
	store, head := filledStore(b, rebuildEvents)
	path := filepath.Join(b.TempDir(), "readmodel.db")
	mustOpenReadModel(b, path).Close()
	ctx := context.Background()
	b.ResetTimer()
	var total time.Duration
	var paused float64
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		began := time.Now()
		prs, err := projections.RebuildOffline(ctx, store, path, projections.All(), nil)
		if err != nil {
			b.Fatalf("rebuild: %v", err)
		}
		for _, pr := range prs {
			if pr.Position != head {
				b.Fatalf("rebuild %s: %+v", pr.Projection, pr)
			}
		}
		paused += prs[0].PausedSeconds
		total += time.Since(began)
	}
	// The machine is shared: the rate per CPU-second of this process shows
	// what the rebuild costs, whatever else runs.
	b.ReportMetric(float64(rebuildEvents)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(rebuildEvents)*float64(b.N)/total.Seconds(), "events/s")
	b.ReportMetric(paused/float64(b.N), "switch-s")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRebuildOnline1M times an online rebuild of the planning projection
// (the big one) from a 1,000,000-event store while the live projector runs
// and a writer appends a batch every millisecond.
func BenchmarkRebuildOnline1M(b *testing.B) {
	store, head := filledStore(b, rebuildEvents)
	rm := mustOpenReadModel(b, filepath.Join(b.TempDir(), "readmodel.db"))
	p := startProjector(b, store, rm)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := rm.WaitFor(ctx, head); err != nil {
		b.Fatal(err)
	}
	l := newEventLog(b, store)
	l.world.round = rebuildEvents // fresh appointment IDs
	l.seq = 10 * rebuildEvents    // fresh event IDs
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			scenario(l, 1)
			time.Sleep(time.Millisecond)
		}
	}()
	b.ResetTimer()
	var total time.Duration
	var paused float64
	for i := 0; i < b.N; i++ {
		began := time.Now()
		if _, err := p.StartRebuild(readmodel.ProjectionPlanning); err != nil {
			b.Fatal(err)
		}
		for {
			time.Sleep(20 * time.Millisecond)
			var last *projections.RebuildProgress
			for _, s := range p.Status() {
				if s.Name == readmodel.ProjectionPlanning && s.Rebuild == nil {
					last = s.LastRebuild
				}
			}
			if last != nil && last.FinishedAt != nil && last.FinishedAt.After(began) {
				if last.State != "done" {
					b.Fatalf("rebuild failed: %+v", last)
				}
				paused += last.PausedSeconds
				break
			}
		}
		total += time.Since(began)
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(rebuildEvents)*float64(b.N)/total.Seconds(), "events/s")
	b.ReportMetric(paused/float64(b.N), "paused-s")
}
