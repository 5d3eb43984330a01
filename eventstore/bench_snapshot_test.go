//go:build unix

package eventstore_test

import (
	"io"
	"os"
	"testing"
)

// BenchmarkSnapshot measures a Raft snapshot of a store of 1,000,000 events
// (AGENDA_BENCH_SNAPSHOT_EVENTS overrides it) shaped like appointment
// creations. "full" encodes every event, as the first snapshot does or one
// without a usable cache; "incremental" follows 16,384 new events (the
// least spacing of the FSM's snapshots; paced, they grow further apart with
// the history, see consensus/snapshot_pacing.go) and copies the rest from
// the cache. One op is one snapshot.
func BenchmarkSnapshot(b *testing.B) {
	s, path := mustOpenStoreFile(b)
	grow := grower(b, s)
	grow(benchEvents("AGENDA_BENCH_SNAPSHOT_EVENTS", 1_000_000))
	_, meta := cacheFiles(path)
	snapshot := func(b *testing.B) int64 {
		sn, err := s.Snapshot(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		defer sn.Release()
		written, err := sn.WriteTo(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		return written
	}
	run := func(b *testing.B, before func()) {
		var cpu, size int64
		for b.Loop() {
			b.StopTimer()
			before()
			b.StartTimer()
			cpu0 := cpuTime()
			size = snapshot(b)
			cpu += (cpuTime() - cpu0).Microseconds()
		}
		b.ReportMetric(float64(cpu)/1000/float64(b.N), "cpu-ms/op")
		b.ReportMetric(float64(size)/1e6, "MB")
	}
	b.Run("full", func(b *testing.B) {
		run(b, func() { os.Remove(meta) })
	})
	b.Run("incremental", func(b *testing.B) {
		snapshot(b) // the cache holds what is there
		run(b, func() { grow(16384) })
	})
}
