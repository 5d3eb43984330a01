package consensus

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// logStore is what the tests ask of a log, in either format.
type logStore interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

var entryData = bytes.Repeat([]byte("x"), 1300)

func putLogs(t *testing.T, s logStore, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := s.StoreLogs([]*raft.Log{{Index: i, Term: 1 + i/1000, Data: entryData}}); err != nil {
			t.Fatalf("StoreLogs(%d): %v", i, err)
		}
	}
}

func requireLogs(t *testing.T, s logStore, first, last uint64) {
	t.Helper()
	if got, err := s.FirstIndex(); err != nil || got != first {
		t.Fatalf("FirstIndex: got %d, %v; want %d", got, err, first)
	}
	if got, err := s.LastIndex(); err != nil || got != last {
		t.Fatalf("LastIndex: got %d, %v; want %d", got, err, last)
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || l.Index != i || l.Term != 1+i/1000 || !bytes.Equal(l.Data, entryData) {
			t.Fatalf("GetLog(%d): %v, index %d term %d, %d bytes", i, err, l.Index, l.Term, len(l.Data))
		}
	}
}

// boltLogIn writes, as builds before raft-wal did, a compacted log (2001
// to 3000) and the stable keys hashicorp/raft keeps into dir/raft.db.
func boltLogIn(t *testing.T, dir string) {
	t.Helper()
	old := mustOpenBolt(t, dir)
	putLogs(t, old, 1, 3000)
	if err := old.DeleteRange(1, 2000); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]uint64{"CurrentTerm": 7, "LastVoteTerm": 6} {
		if err := old.SetUint64([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Set([]byte("LastVoteCand"), []byte("n2")); err != nil {
		t.Fatal(err)
	}
	old.Close()
}

// requireMigrated checks dir's log after a migration of boltLogIn's: every
// entry and stable key kept, raft.db and the scratch copy gone, and the
// log going on.
func requireMigrated(t *testing.T, dir string) {
	t.Helper()
	s := mustOpenLogStore(t, dir)
	requireLogs(t, s, 2001, 3000)
	term, err1 := s.GetUint64([]byte("CurrentTerm"))
	vterm, err2 := s.GetUint64([]byte("LastVoteTerm"))
	cand, err3 := s.Get([]byte("LastVoteCand"))
	if term != 7 || vterm != 6 || string(cand) != "n2" || errors.Join(err1, err2, err3) != nil {
		t.Fatalf("stable keys: term %d, vote term %d, candidate %q (%v)", term, vterm, cand, errors.Join(err1, err2, err3))
	}
	for _, name := range []string{boltLog, walDir + ".migrating"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there (%v)", name, err)
		}
	}
	putLogs(t, s, 3001, 3500)
	if err := s.DeleteRange(2001, 2500); err != nil {
		t.Fatalf("DeleteRange: %v", err)
	}
	s.Close()
	s = mustOpenLogStore(t, dir)
	defer s.Close()
	requireLogs(t, s, 2501, 3500)
}

// TestLogStoreMigratesBoltLog: a data dir an earlier build left, its log
// in bbolt, opens with every entry and stable key in raft-wal.
func TestLogStoreMigratesBoltLog(t *testing.T) {
	dir := t.TempDir()
	boltLogIn(t, dir)
	requireMigrated(t, dir)
}

// TestLogStoreForgetsCompactedEntries: an entry behind a compaction is not
// found, even while its segment is still on disk, so a follower that needs
// it is sent the snapshot (raft-wal alone still finds it there).
func TestLogStoreForgetsCompactedEntries(t *testing.T) {
	s, err := openLogStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putLogs(t, s, 1, 300)
	if err := s.DeleteRange(1, 200); err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{1, 150, 200} {
		var l raft.Log
		if err := s.GetLog(i, &l); !errors.Is(err, raft.ErrLogNotFound) {
			t.Errorf("GetLog(%d) after compacting through 200: %v, want ErrLogNotFound", i, err)
		}
	}
	requireLogs(t, s, 201, 300)
}

// TestLogStoreWithoutItsMetaSaysSo: raft-wal cannot read its segments
// without its meta file; a fault review lost only that file and was told
// "file exists". The error now names what is missing and what to do.
func TestLogStoreWithoutItsMetaSaysSo(t *testing.T) {
	dir := t.TempDir()
	s, err := openLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	putLogs(t, s, 1, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, walDir, walMeta)); err != nil {
		t.Fatal(err)
	}
	_, err = openLogStore(dir)
	if err == nil || !strings.Contains(err.Error(), "not "+walMeta) || !strings.Contains(err.Error(), "move "+dir+" aside") {
		t.Fatalf("openLogStore without %s: %v, want it named, with what to do", walMeta, err)
	}
}

// TestLogStoreMigratesLogWithGap: a follower of an earlier build that
// installed a snapshot kept some of its old entries, then a gap, then the
// entries after the snapshot. The migration keeps the run after the gap
// (the snapshot covers what is before it) instead of failing at the gap on
// every start.
func TestLogStoreMigratesLogWithGap(t *testing.T) {
	dir := t.TempDir()
	old := mustOpenBolt(t, dir)
	putLogs(t, old, 1, 100)
	putLogs(t, old, 2001, 2010)
	if err := old.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s := mustOpenLogStore(t, dir)
	defer s.Close()
	requireLogs(t, s, 2001, 2010)
	if term, err := s.GetUint64([]byte("CurrentTerm")); term != 3 || err != nil {
		t.Fatalf("CurrentTerm: %d, %v", term, err)
	}
}

// TestLogStoreMovesABoltLogWrittenAfterTheMove: a raft.db beside a complete
// wal that is not the one the wal was copied from was written by a build
// from before raft-wal that ran here since (a rollback), and is the newest
// state the node has: it is moved anew, its term included, and the older
// wal kept aside rather than deleted. The same for a wal this build began
// on an empty raft dir before such a rollback.
func TestLogStoreMovesABoltLogWrittenAfterTheMove(t *testing.T) {
	for _, first := range []string{"migrated", "begun empty"} {
		t.Run(first, func(t *testing.T) {
			dir := t.TempDir()
			if first == "migrated" {
				boltLogIn(t, dir)
			}
			s := mustOpenLogStore(t, dir)
			putLogs(t, s, 3001, 3005)
			s.Close()
			// The earlier build, started again, finds no raft.db and
			// writes a new one.
			newer := mustOpenBolt(t, dir)
			putLogs(t, newer, 4001, 4020)
			if err := newer.SetUint64([]byte("CurrentTerm"), 9); err != nil {
				t.Fatal(err)
			}
			newer.Close()
			s = mustOpenLogStore(t, dir)
			defer s.Close()
			requireLogs(t, s, 4001, 4020)
			if term, err := s.GetUint64([]byte("CurrentTerm")); term != 9 || err != nil {
				t.Fatalf("CurrentTerm: %d, %v", term, err)
			}
			if _, err := os.Stat(filepath.Join(dir, walDir+".superseded", "wal-meta.db")); err != nil {
				t.Errorf("the older wal was not kept aside: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, boltLog)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("raft.db is still there (%v)", err)
			}
		})
	}
}

// TestLogStoreMigrationResumes: a migration stopped at any step (a crash)
// completes when the node starts again: a half-written copy is thrown
// away and made again; a complete one found beside raft.db is kept.
func TestLogStoreMigrationResumes(t *testing.T) {
	t.Run("copy half made", func(t *testing.T) {
		dir := t.TempDir()
		boltLogIn(t, dir)
		half := filepath.Join(dir, walDir+".migrating")
		os.Mkdir(half, 0o700)
		os.WriteFile(filepath.Join(half, "wal-meta.db"), []byte("torn"), 0o600)
		os.Mkdir(filepath.Join(dir, walDir), 0o700) // an empty wal, as MkdirAll may leave
		requireMigrated(t, dir)
	})
	t.Run("copy complete, raft.db not yet removed", func(t *testing.T) {
		dir := t.TempDir()
		boltLogIn(t, dir)
		saved := filepath.Join(t.TempDir(), boltLog)
		copyBytes(t, filepath.Join(dir, boltLog), saved)
		s := mustOpenLogStore(t, dir)
		putLogs(t, s, 3001, 3001) // only the wal has it
		s.Close()
		copyBytes(t, saved, filepath.Join(dir, boltLog))
		s = mustOpenLogStore(t, dir)
		requireLogs(t, s, 2001, 3001)
		s.Close()
		if _, err := os.Stat(filepath.Join(dir, boltLog)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("raft.db is still there (%v)", err)
		}
	})
	t.Run("empty bolt log", func(t *testing.T) {
		dir := t.TempDir()
		old := mustOpenBolt(t, dir)
		old.Close()
		s := mustOpenLogStore(t, dir)
		defer s.Close()
		if last, err := s.LastIndex(); err != nil || last != 0 {
			t.Fatalf("LastIndex: %d, %v", last, err)
		}
	})
}

// mustOpenBolt opens (creating) the bbolt log an earlier build kept in dir.
func mustOpenBolt(t *testing.T, dir string) *raftboltdb.BoltStore {
	t.Helper()
	s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, boltLog)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustOpenLogStore(t *testing.T, dir string) walLog {
	t.Helper()
	s, err := openLogStore(dir)
	if err != nil {
		t.Fatalf("openLogStore: %v", err)
	}
	return s
}

func copyBytes(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLogStoreAppendCompacted measures appending one entry of 1.3 KB
// (an appointment's create) at a time to a Raft log that has been
// compacted as snapshots compact it, which is where bbolt's freelist
// matters: 16,384 entries per snapshot, 10,240 kept behind it.
func BenchmarkLogStoreAppendCompacted(b *testing.B) {
	s, err := openLogStore(b.TempDir())
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

// A log opened and closed without an entry (a start that failed after
// creating it) holds no history: the store beside it is no copy of it.
func TestHoldsHistoryNotInAnEmptyLog(t *testing.T) {
	dir := t.TempDir()
	mustOpenLogStore(t, dir).Close()
	if !hasLog(dir) {
		t.Fatal("no log after opening one")
	}
	if ok, why, err := HoldsHistory(dir); ok || err != nil {
		t.Errorf("an empty Raft log holds the store's history (%q, %v)", why, err)
	}
}
