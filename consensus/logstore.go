package consensus

import (
	"path/filepath"
	"time"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// openLogStore opens the Raft log (raft.db in dir), waiting at most timeout
// for another process's lock on it (0: wait as long as it takes).
//
// bbolt is told not to write its freelist on every commit, and to keep it in
// memory as a map, as etcd does. The log is compacted by deleting its oldest
// entries in bulk, so after the first snapshot the file holds thousands of
// free pages, and bbolt's default rewrites the whole list of them, sorted,
// in every commit: every entry appended paid for it.
// BenchmarkLogStoreAppendCompacted (1.3 KB entries after three compactions,
// A-B-A-B): 198 → 133–149 CPU-µs a StoreLogs. The freelist is derived state:
// bbolt rebuilds it by walking the file on open (about 30 ms for a 52 MB
// log here) and after a write transaction that rolls back (only on an
// error), so durability does not change, and a build that syncs the
// freelist opens such a file as well (TestLogStoreOpensAcrossFreelistSettings).
func openLogStore(dir string, timeout time.Duration) (*raftboltdb.BoltStore, error) {
	return raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{
			Timeout:        timeout,
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
		},
	})
}
