package consensus_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/agendahq/agenda/events"
)

// BenchmarkProposeParallel proposes one-event batches from many goroutines,
// each to its own stream, through a single-node cluster: raft batches the
// concurrent entries into one log write and one SQLite transaction.
func BenchmarkProposeParallel(b *testing.B) {
	n := mustStartNode(b)
	template := newEvent(b, "template", "bench", 1)
	var streams atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		stream := "bench-" + strconv.FormatInt(streams.Add(1), 10)
		var version int64
		for pb.Next() {
			e := template
			e.Stream = stream
			e.Version = version + 1
			e.ID = stream + "@" + strconv.FormatInt(e.Version, 10)
			if _, err := propose(n, events.Batch{
				Events: []events.Envelope{e},
				Expect: []events.Expectation{{Stream: stream, Version: version}},
			}); err != nil {
				b.Errorf("Propose: %v", err)
				return
			}
			version++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkProposeSequential is the one-client baseline: each proposal
// waits for its own log write and apply.
func BenchmarkProposeSequential(b *testing.B) {
	n := mustStartNode(b)
	template := newEvent(b, "template", "bench", 1)
	var version int64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e := template
		e.Version = version + 1
		e.ID = "seq@" + strconv.FormatInt(e.Version, 10)
		if _, err := propose(n, events.Batch{
			Events: []events.Envelope{e},
			Expect: []events.Expectation{{Stream: "bench", Version: version}},
		}); err != nil {
			b.Fatalf("Propose: %v", err)
		}
		version++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkReadIndex asks a three-node cluster's leader for read indexes
// from many goroutines at once, as strong reads and refusals confirmed on
// fresh state do: each waits for a quorum to accept a heartbeat sent after
// it began (concurrent callers share heartbeats).
func BenchmarkReadIndex(b *testing.B) {
	nodes := startCluster(b, 3)
	leader := leaderOf(b, nodes)
	mustPropose(b, leader, streamBatch(b, "bench", 0, 1))
	b.SetParallelism(8) // 8 × GOMAXPROCS goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := leader.ReadIndex(context.Background()); err != nil {
				b.Errorf("ReadIndex: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
