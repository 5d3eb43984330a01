package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agendahq/agenda/eventstore"
)

// TestBackupHoldsEveryAcknowledgedWrite: `agenda backup` of a running node
// copies its store only once the node has confirmed, through the leader,
// that it holds every write the cluster acknowledged. An operations review
// took the documented online backup on a node just restarted (and one cut
// off), got exit 0, and restored it 50 acknowledged writes short. A node
// cut off from its cluster is now refused (exit 6) unless -allow-stale,
// which copies what it holds; a node in the cluster gives a copy with
// every acknowledged write.
func TestBackupHoldsEveryAcknowledgedWrite(t *testing.T) {
	tc, leader := startCluster(t, 3)
	fs := followersOf(tc.nodes, leader)
	cut, other := fs[0], fs[1]
	u := tc.registerOn(leader, "backedup")
	first := mustCreateSlot(t, u, 1)
	tc.waitPosition(clusterTimeout, tc.nodes, first.Position)

	tc.isolate(cut)
	var acked []written
	for s := 2; s <= 11; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(leader), s))
	}
	last := maxPosition(acked)
	backup := func(n *clusterNode, name string, extra ...string) (string, int, error) {
		out := filepath.Join(t.TempDir(), name)
		args := append([]string{"backup", "--out", out, "--data-dir", n.dataDir, "--addr", n.httpAddr,
			"--cluster-hmac-secret", testClusterSecret}, extra...)
		code, err := runCLI(args...)
		return out, code, err
	}
	head := func(path string) int64 {
		t.Helper()
		info, err := eventstore.InspectBackup(context.Background(), path)
		if err != nil {
			t.Fatalf("inspect %s: %v", path, err)
		}
		return info.Head
	}

	if _, code, err := backup(cut, "cut.db"); code != exitBehind {
		t.Errorf("backup of the cut-off node: exit %d (%v), want %d", code, err, exitBehind)
	}
	if out, code, err := backup(cut, "stale.db", "--allow-stale"); code != 0 {
		t.Errorf("backup of the cut-off node with -allow-stale: exit %d (%v), want 0", code, err)
	} else if h := head(out); h >= last {
		t.Errorf("the cut-off node's copy reaches %d; it cannot hold the writes up to %d", h, last)
	}
	out, code, err := backup(other, "other.db")
	if code != 0 {
		t.Fatalf("backup of a follower in the cluster: exit %d (%v)", code, err)
	}
	if h := head(out); h < last {
		t.Errorf("a follower's backup reaches %d, short of the last acknowledged write at %d", h, last)
	}
	tc.heal()
}
