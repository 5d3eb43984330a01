package eventstore_test

import (
	"strconv"
	"testing"

	"github.com/agendahq/agenda/events"
)

// BenchmarkEventStoreAppend measures apply transactions as the FSM runs
// them: Begin, Append, SetApplied, Commit. One op is one transaction.
func BenchmarkEventStoreAppend(b *testing.B) {
	cases := []struct {
		name     string
		batches  int // batches per transaction
		perBatch int // events per batch
	}{
		{name: "tx=1batch/events=1", batches: 1, perBatch: 1},
		{name: "tx=1batch/events=64", batches: 1, perBatch: 64},
		{name: "tx=64batches/events=1", batches: 64, perBatch: 1},
		// A Raft batch holds however many commands were waiting: events
		// per transaction vary from one to the next.
		{name: "tx=1batch/events=1-64", batches: 1, perBatch: -64},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			s := mustOpenStore(b)
			template := newEvent(b, "template", "bench", 1)
			var version int64
			var index uint64
			txs := 0
			next := func() events.Batch {
				n := bc.perBatch
				if n < 0 {
					txs++
					n = 1 + txs*37%(-n) // every size, in a fixed order
				}
				batch := copies(template, version, n)
				version += int64(n)
				return batch
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				tx, err := s.Begin(b.Context())
				if err != nil {
					b.Fatalf("Begin: %v", err)
				}
				for range bc.batches {
					if _, err := tx.Append(next()); err != nil {
						b.Fatalf("Append: %v", err)
					}
				}
				index++
				if err := tx.SetApplied(index, 1); err != nil {
					b.Fatalf("SetApplied: %v", err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatalf("Commit: %v", err)
				}
			}
			b.ReportMetric(float64(version)/b.Elapsed().Seconds(), "events/s")
			if got := s.Head(); got != version {
				b.Fatalf("Head: got %d, want %d", got, version)
			}
		})
	}
}

// BenchmarkEventStoreReadTypes measures reading the log from SQLite, as a
// rebuild or a projector catching up does: 65,536 events in reads of 8,192
// (the store is reopened first, so none comes from the in-memory tail).
func BenchmarkEventStoreReadTypes(b *testing.B) {
	s, path := mustOpenStoreFile(b)
	const n, perTx = 65536, 1024
	template := newEvent(b, "template", "bench", 1)
	for version, index := int64(0), uint64(1); version < n; version, index = version+perTx, index+1 {
		mustApply(b, s, index, copies(template, version, perTx))
	}
	s.Close()
	s = mustOpenStoreAt(b, path)
	types := []string{template.Type}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for from := int64(0); from < n; {
			envs, to, err := s.ReadTypes(b.Context(), from, n, 8192, types)
			if err != nil || len(envs) == 0 {
				b.Fatalf("ReadTypes after %d: %d events, %v", from, len(envs), err)
			}
			from = to
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// copies is a batch of n copies of template on its stream, after version:
// each with an ID and version of its own.
func copies(template events.Envelope, version int64, n int) events.Batch {
	batch := events.Batch{Expect: []events.Expectation{expect(template.Stream, version)}}
	for range n {
		version++
		e := template
		e.ID = "e" + strconv.FormatInt(version, 10)
		e.Version = version
		batch.Events = append(batch.Events, e)
	}
	return batch
}
