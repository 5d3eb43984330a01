package consensus

import (
	"bytes"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// TestLogStoreOpensAcrossFreelistSettings: a log written by openLogStore
// (no freelist on disk) and compacted opens in a build that syncs bbolt's
// freelist, as the builds before this one did (a rollback), and the file
// such a build wrote opens again here (the upgrade), with every entry kept
// and appends going on after each compaction.
func TestLogStoreOpensAcrossFreelistSettings(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("x"), 1300)
	put := func(s *raftboltdb.BoltStore, from, to uint64) {
		t.Helper()
		for i := from; i <= to; i++ {
			if err := s.StoreLogs([]*raft.Log{{Index: i, Term: 1, Data: data}}); err != nil {
				t.Fatalf("StoreLogs(%d): %v", i, err)
			}
		}
	}
	check := func(s *raftboltdb.BoltStore, first, last uint64) {
		t.Helper()
		if got, err := s.FirstIndex(); err != nil || got != first {
			t.Fatalf("FirstIndex: got %d, %v; want %d", got, err, first)
		}
		if got, err := s.LastIndex(); err != nil || got != last {
			t.Fatalf("LastIndex: got %d, %v; want %d", got, err, last)
		}
		for i := first; i <= last; i++ {
			var l raft.Log
			if err := s.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, data) {
				t.Fatalf("GetLog(%d): %v, %d bytes", i, err, len(l.Data))
			}
		}
	}

	s, err := openLogStore(dir, time.Second)
	if err != nil {
		t.Fatalf("openLogStore: %v", err)
	}
	put(s, 1, 3000)
	if err := s.DeleteRange(1, 2000); err != nil {
		t.Fatalf("DeleteRange: %v", err)
	}
	put(s, 3001, 3500) // into the pages the compaction freed
	s.Close()

	old, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		t.Fatalf("open with the freelist synced: %v", err)
	}
	check(old, 2001, 3500)
	if err := old.DeleteRange(2001, 3000); err != nil {
		t.Fatalf("DeleteRange: %v", err)
	}
	put(old, 3501, 4000)
	old.Close()

	s, err = openLogStore(dir, time.Second)
	if err != nil {
		t.Fatalf("openLogStore again: %v", err)
	}
	defer s.Close()
	check(s, 3001, 4000)
	put(s, 4001, 5000)
	check(s, 3001, 5000)
}

// BenchmarkLogStoreAppendCompacted measures appending one entry of 1.3 KB
// (an appointment's create) at a time to a Raft log that has been
// compacted as snapshots compact it, which is where bbolt's freelist
// matters: 16,384 entries per snapshot, 10,240 kept behind it.
func BenchmarkLogStoreAppendCompacted(b *testing.B) {
	s, err := openLogStore(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 1300)
	var index uint64
	put := func() {
		index++
		if err := s.StoreLogs([]*raft.Log{{Index: index, Term: 1, Data: data}}); err != nil {
			b.Fatal(err)
		}
	}
	for range 3 {
		for range 16384 {
			put()
		}
		first, _ := s.FirstIndex()
		if err := s.DeleteRange(first, index-10240); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		put()
	}
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the user and system CPU time this process has used: fsync
// is system time, and the machine is shared.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
