//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Finding 7 of issue 9: events.db and readmodel.db were created 0644, so
// any local user could read usernames, e-mail addresses and password
// hashes. A node started the way a deployment starts it (the serve
// command, whatever umask it inherits) keeps every file of its data dir
// 0600 and every directory 0700: databases with their -wal and -shm, the
// Raft log, snapshots, secrets. Checked with a real stat while it runs.
func TestDataDirIsPrivate(t *testing.T) {
	tc := newDirectCluster(t, 1)
	n := tc.nodes[0]
	n.snapshotOften(4, 2, "200ms")
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	ana := tc.registerOn(n, "ana")
	for slot := 1; slot <= 12; slot++ {
		mustCreateSlot(t, ana, slot)
	}
	var sawWAL, sawSnapshot bool
	waitFor(t, 20*time.Second, "a Raft snapshot and the WAL files", func() bool {
		filepath.WalkDir(n.dataDir, func(path string, d fs.DirEntry, err error) error {
			sawWAL = sawWAL || strings.HasSuffix(path, "events.db-wal")
			sawSnapshot = sawSnapshot || (strings.Contains(path, "snapshots") && d != nil && d.Name() == "meta.json")
			return nil
		})
		return sawWAL && sawSnapshot
	})
	count := 0
	err := filepath.WalkDir(n.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %o, want no access for group or others", strings.TrimPrefix(path, n.dataDir), fi.Mode().Perm())
		}
		count++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files and directories checked", count)
}
