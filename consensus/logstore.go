package consensus

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
)

// The Raft log and stable store is hashicorp/raft-wal, in dir/wal: segment
// files appended to and deleted whole, and a small bbolt file (wal-meta.db)
// for the stable keys (term, vote) and the list of segments. Consul, on
// the same hashicorp/raft, moved its log there from raft-boltdb for the
// reasons that held here too:
//
//   - An append is one write and one fsync. bbolt's copy-on-write B-tree
//     wrote every entry's pages and then its meta page, each fsynced.
//   - Compaction deletes whole segment files. bbolt kept the file at its
//     largest and tracked the freed pages, and it reads through a memory
//     map: compaction walked every page it freed, so the whole log (64–84
//     MB after 10⁶ creates) stayed in the process's resident memory.
//     raft-wal reads with pread, through the kernel's page cache, as SQLite
//     does.
//
// The library calls itself experimental; what the node relies on is what
// hashicorp/raft asks of any LogStore (an entry stored is durable before
// StoreLogs returns; a prefix or suffix deleted is gone) and this project's
// crash tests (SIGKILL mid-write and restart, disk loss, partitions) hold
// it to that.
const (
	walDir = "wal"
	// walMeta is raft-wal's own file in walDir, written when it opens: a
	// wal directory without it holds no log.
	walMeta = "wal-meta.db"
	// walSegmentSize is the soft limit of one segment file. Compaction
	// frees whole segments only, so the log keeps up to one segment more
	// than TrailingLogs; at 8 MiB that is about 6,000 creates. (Consul's
	// default, 64 MiB, would keep more on disk than the whole log holds
	// here.)
	walSegmentSize = 8 << 20
	// boltLog is where builds before raft-wal kept the log.
	boltLog = "raft.db"
)

// walLog is raft-wal's WAL with one difference: an entry a compaction
// deleted is gone. raft-wal deletes a prefix of the log by raising the
// first index it reports, and frees the space only with whole segments;
// until then GetLog still finds those entries in the open segment. Served
// to a follower that needs them, they are committed entries and correct,
// but the leader would send a follower that far behind a long run of old
// entries instead of the snapshot that replaces them, and which path a
// catch-up takes would depend on segment boundaries.
type walLog struct{ *wal.WAL }

// GetLog returns raft.ErrLogNotFound for an index before the first.
func (l walLog) GetLog(index uint64, log *raft.Log) error {
	if first, err := l.FirstIndex(); err == nil && index < first {
		return raft.ErrLogNotFound
	}
	return l.WAL.GetLog(index, log)
}

// openLogStore opens the Raft log in dir, first moving into it a log that
// an earlier build kept in bbolt (migrateBoltLog). The caller holds the
// data dir's lock.
func openLogStore(dir string) (walLog, error) {
	if err := migrateBoltLog(dir); err != nil {
		return walLog{}, fmt.Errorf("move the Raft log from %s to raft-wal: %w", boltLog, err)
	}
	path := filepath.Join(dir, walDir)
	if err := os.MkdirAll(path, 0o700); err != nil {
		return walLog{}, err
	}
	// raft-wal finds its segments through its meta file: without it, it
	// starts a new log and fails on the first segment's name ("file
	// exists", which a fault review found told an operator nothing).
	if segs, _ := filepath.Glob(filepath.Join(path, "*.wal")); len(segs) > 0 && !fileExists(filepath.Join(path, walMeta)) {
		return walLog{}, fmt.Errorf("%s holds %d log segments but not %s, without which they cannot be read: move %s aside, and the node starts as one that lost its Raft log (README: What \"nothing acknowledged is lost\" means)", path, len(segs), walMeta, dir)
	}
	w, err := openWAL(path)
	return walLog{w}, err
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func openWAL(path string) (*wal.WAL, error) {
	return wal.Open(path, wal.WithSegmentSize(walSegmentSize),
		wal.WithLogger(hclog.New(&hclog.LoggerOptions{Name: "raft-wal", Level: hclog.Warn, Output: os.Stderr})))
}

// openStopped opens the Raft log and snapshots of a stopped node's Raft
// directory (the caller holds the data dir's lock), for the commands that
// read or rewrite them offline; it fails on a directory without a log.
func openStopped(dir string) (walLog, raft.SnapshotStore, error) {
	if !hasLog(dir) {
		return walLog{}, nil, fmt.Errorf("no Raft log in %s", dir)
	}
	logs, err := openLogStore(dir)
	if err != nil {
		return walLog{}, nil, fmt.Errorf("open raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		logs.Close()
		return walLog{}, nil, fmt.Errorf("open snapshot store: %w", err)
	}
	return logs, snaps, nil
}

// HoldsHistory reports whether dir, a stopped node's Raft directory, holds
// every entry its event store applied (a log that begins where its latest
// snapshot ends, or earlier), so that the store may be discarded and built
// again from them (eventstore.Open says when); if not, why says why. Not
// without a log holding at least one entry or a snapshot (the store may hold
// a restored history, or the log was lost, or a start failed after creating
// an empty one), nor with snapshots lost behind the log; nor while a
// restored history waits to be compacted into a snapshot (restoredFile),
// the vote gate is closed (the store may have applied more than the log
// holds: votegate.go), or the node halted on an entry it could not apply
// (haltedFile: its store may hold entries the cluster did not keep). It
// fails if the log cannot be opened: the node cannot start then either.
func HoldsHistory(dir string) (ok bool, why string, err error) {
	if !hasLog(dir) {
		return false, "no Raft log", nil
	}
	for _, m := range []struct{ file, why string }{
		{restoredFile, "a restored history not yet in a snapshot"},
		{voteGateFile, "a vote gate still closed (the node had not caught up)"},
		{haltedFile, "a record that the node halted on an entry it could not apply"},
	} {
		if fileExists(filepath.Join(dir, m.file)) {
			return false, m.why, nil
		}
	}
	logs, snaps, err := openStopped(dir)
	if err != nil {
		return false, "", err
	}
	defer logs.Close()
	if logCovered(dir, logs, snaps) != nil {
		return false, "snapshots lost behind the Raft log", nil
	}
	last, err := lastRaftIndex(logs, snaps)
	if err != nil {
		return false, "", err
	}
	if last == 0 {
		return false, "a Raft log without an entry", nil
	}
	return true, "", nil
}

// haltedFile records, beside the Raft log, that the state machine halted on
// an entry (fsm.halt), until a clean stop after it applied entries again.
const haltedFile = "halted"

// hasLog reports whether dir holds a Raft log, in either format.
func hasLog(dir string) bool {
	return fileExists(filepath.Join(dir, walDir, walMeta)) || fileExists(filepath.Join(dir, boltLog))
}

// lastRaftIndex is the last index a node's log or snapshots hold (0 for
// none).
func lastRaftIndex(logs raft.LogStore, snaps raft.SnapshotStore) (uint64, error) {
	last, err := logs.LastIndex()
	if err != nil {
		return 0, fmt.Errorf("read the raft log's last index: %w", err)
	}
	metas, err := snaps.List()
	if err != nil {
		return 0, fmt.Errorf("list snapshots: %w", err)
	}
	if len(metas) > 0 {
		last = max(last, metas[0].Index)
	}
	return last, nil
}

// lastRaftEntry is the index and term of the last entry a stopped node's
// log or snapshots hold (0, 0 for none), for `cluster log-end`.
func lastRaftEntry(logs raft.LogStore, snaps raft.SnapshotStore) (index, term uint64, err error) {
	if index, err = lastRaftIndex(logs, snaps); err != nil || index == 0 {
		return index, 0, err
	}
	if metas, err := snaps.List(); err == nil && len(metas) > 0 && metas[0].Index == index {
		return index, metas[0].Term, nil
	}
	var l raft.Log
	if err := logs.GetLog(index, &l); err != nil {
		return 0, 0, fmt.Errorf("read raft log entry %d: %w", index, err)
	}
	return index, l.Term, nil
}
