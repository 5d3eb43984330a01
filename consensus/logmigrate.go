package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hashicorp/raft-wal/migrate"
	"go.etcd.io/bbolt"
)

// migratedFrom names the file, inside the wal directory, that records the
// raft.db a migration copied (boltState): a raft.db found beside a
// complete wal is a leftover of that migration only if it is still that
// one.
const migratedFrom = "migrated-from-raft.db.json"

// migrateBoltLog copies a bbolt log (raft.db), entries and stable keys,
// into a new raft-wal log, then removes raft.db. It is safe to stop at any
// instant and run again:
//
//  1. the copy is built in wal.migrating, removed first if a stopped run
//     left one, with a record of the raft.db it copied;
//  2. it becomes wal by a rename, once complete and synced;
//  3. raft.db is removed last. Found beside a complete wal, it is removed
//     if it is still the one the wal records. Any other raft.db was
//     written after the wal: a build from before raft-wal ran here since
//     (a rollback, which Swarm does by itself when an upgraded task fails
//     its health check), and that run is the newest state this node has,
//     its term and vote included. The wal is then superseded: kept as
//     wal.superseded, and raft.db moved anew.
//
// A build from before raft-wal does not read the wal: rolled back to, it
// starts with an empty log and no record of its term or vote ("The Raft
// log" in DESIGN.md says why that is not safe on its own, and what is).
func migrateBoltLog(dir string) error {
	old := filepath.Join(dir, boltLog)
	if _, err := os.Stat(old); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	final := filepath.Join(dir, walDir)
	if _, err := os.Stat(filepath.Join(final, walMeta)); err == nil {
		copied, err := copiedFrom(old, final)
		if err != nil {
			return err
		}
		if copied {
			return removeSynced(old)
		}
		aside := final + ".superseded"
		slog.Warn("raft.db was written after it was moved into the raft-wal log (a build from before raft-wal ran here since): moving it again; the older log is kept aside", "raft_db", old, "kept", aside)
		if err := os.RemoveAll(aside); err != nil {
			return err
		}
		if err := os.Rename(final, aside); err != nil {
			return err
		}
		if err := syncDir(dir); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Nothing writes to wal while raft.db is there: an incomplete one can
	// only be an empty directory.
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	tmp := final + ".migrating"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	if err := copyBoltLog(tmp, old); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return removeSynced(old)
}

// copiedFrom reports whether the wal was copied from raft.db as it is now.
// A wal that records no copy was begun by this build on an empty raft dir.
func copiedFrom(old, final string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(final, migratedFrom))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	var want boltState
	if err := json.Unmarshal(b, &want); err != nil {
		return false, fmt.Errorf("%s: %w", filepath.Join(final, migratedFrom), err)
	}
	got, err := readBoltState(old)
	if err != nil {
		return false, err
	}
	return got == want, nil
}

// boltState identifies a raft.db: its last entry and its stable keys.
type boltState struct {
	LastIndex    uint64 `json:"last_index"`
	LastTerm     uint64 `json:"last_term"`
	CurrentTerm  uint64 `json:"current_term"`
	LastVoteTerm uint64 `json:"last_vote_term"`
	LastVoteCand string `json:"last_vote_cand"`
}

func openBolt(path string) (*raftboltdb.BoltStore, error) {
	s, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{
		Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

func readBoltState(path string) (boltState, error) {
	s, err := openBolt(path)
	if err != nil {
		return boltState{}, err
	}
	defer s.Close()
	return boltStateOf(s)
}

func boltStateOf(s *raftboltdb.BoltStore) (st boltState, err error) {
	if st.LastIndex, err = s.LastIndex(); err != nil {
		return st, err
	}
	if st.LastIndex > 0 {
		var l raft.Log
		if err := s.GetLog(st.LastIndex, &l); err != nil {
			return st, err
		}
		st.LastTerm = l.Term
	}
	for k, v := range map[string]*uint64{"CurrentTerm": &st.CurrentTerm, "LastVoteTerm": &st.LastVoteTerm} {
		if *v, err = s.GetUint64([]byte(k)); err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
			return st, err
		}
	}
	cand, err := s.Get([]byte("LastVoteCand"))
	if err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return st, err
	}
	st.LastVoteCand = string(cand)
	return st, nil
}

// copyBoltLog copies the log and stable store in the bbolt file src into
// a new raft-wal log in dir, and records which raft.db it copied.
func copyBoltLog(dir, src string) (err error) {
	from, err := openBolt(src)
	if err != nil {
		return err
	}
	defer from.Close()
	st, err := boltStateOf(from)
	if err != nil {
		return err
	}
	if err := copyWAL(dir, from, st.LastIndex); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeSynced(filepath.Join(dir, migratedFrom), b)
}

func copyWAL(dir string, from *raftboltdb.BoltStore, last uint64) (err error) {
	to, err := openWAL(dir)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := to.Close(); err == nil {
			err = cerr
		}
	}()
	if err := copyStable(to, from); err != nil {
		return err
	}
	if last == 0 { // an empty log has no entries to copy
		return nil
	}
	first, err := contiguousFrom(from, last)
	if err != nil {
		return err
	}
	return migrate.CopyLogs(context.Background(), to, logFrom{from, first}, 1<<20, nil)
}

// contiguousFrom returns the first index of the run of entries without a
// gap that ends at last. raft-boltdb leaves a gap where a follower
// installed a snapshot (it keeps TrailingLogs of its old entries and
// appends after the snapshot's index) until its next compaction; raft-wal
// takes no gap, and what lies before one is covered by that snapshot (for
// a log that cannot have gaps hashicorp/raft removes it when installing a
// snapshot).
func contiguousFrom(s raft.LogStore, last uint64) (uint64, error) {
	first, err := s.FirstIndex()
	if err != nil {
		return 0, err
	}
	i := last
	for i > first {
		var l raft.Log
		if err := s.GetLog(i-1, &l); errors.Is(err, raft.ErrLogNotFound) {
			break
		} else if err != nil {
			return 0, err
		}
		i--
	}
	return i, nil
}

// logFrom is a log seen from index first on.
type logFrom struct {
	raft.LogStore
	first uint64
}

func (l logFrom) FirstIndex() (uint64, error) { return l.first, nil }

// copyStable copies the keys hashicorp/raft keeps in its stable store, the
// ones it has written: a node that never voted has no vote to copy (which
// is why not migrate.CopyStable: it wants every key).
func copyStable(to, from raft.StableStore) error {
	for _, k := range []string{"CurrentTerm", "LastVoteTerm"} {
		v, err := from.GetUint64([]byte(k))
		if errors.Is(err, raftboltdb.ErrKeyNotFound) {
			continue
		}
		if err == nil {
			err = to.SetUint64([]byte(k), v)
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", k, err)
		}
	}
	v, err := from.Get([]byte("LastVoteCand"))
	if errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return nil
	}
	if err == nil {
		err = to.Set([]byte("LastVoteCand"), v)
	}
	if err != nil {
		return fmt.Errorf("copy LastVoteCand: %w", err)
	}
	return nil
}
