package main

import (
	"context"
	"os"
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
	// Written through the follower, so that the leader's log ends in the
	// barrier that publishes the commit, which the state machine never
	// sees: the store's applied index stays below the commit index while
	// it holds every write (a review found every such backup refused).
	acked = append(acked, mustCreateSlot(t, u.as(other), 12))
	last = maxPosition(acked)
	out, code, err := backup(other, "other.db")
	if code != 0 {
		t.Fatalf("backup of a follower in the cluster: exit %d (%v)", code, err)
	}
	if h := head(out); h < last {
		t.Errorf("a follower's backup reaches %d, short of the last acknowledged write at %d", h, last)
	}
	// Asking wrongly is a setup error (exit 1), not the node's refusal: a
	// review found a typo pointed at -allow-stale.
	for name, args := range map[string][]string{
		"a wrong secret":     {"--out", filepath.Join(t.TempDir(), "x.db"), "--data-dir", other.dataDir, "--addr", other.httpAddr, "--cluster-hmac-secret", "not-the-cluster-secret-0123456789abcdef"},
		"another node's dir": {"--out", filepath.Join(t.TempDir(), "y.db"), "--data-dir", other.dataDir, "--addr", leader.httpAddr, "--cluster-hmac-secret", testClusterSecret},
	} {
		t.Setenv("NODE_ID", other.id) // as the node's own environment gives it
		if code, err := runCLI(append([]string{"backup"}, args...)...); code != exitFailed {
			t.Errorf("backup with %s: exit %d (%v), want %d", name, code, err, exitFailed)
		}
	}
	tc.heal()
}

// TestBackupOfANodeJustRestarted: a single node restarted on its data dir
// commits a barrier of its new term, which the state machine never sees;
// its backup is confirmed all the same (a review found it refused, exit
// 1, with -allow-stale too). The development secret kept in the data dir
// serves when none is given, as `agenda serve` without one keeps it there.
func TestBackupOfANodeJustRestarted(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	populate(t, n, 2, 2)
	head := n.store.Head()
	n.Close()
	n = startNode(t, cfg)
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "secrets", "cluster_hmac_secret"), []byte(cfg.ClusterSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CLUSTER_HMAC_SECRET", "")
	t.Setenv("HTTP_ADDR", n.HTTPAddr())
	for _, extra := range [][]string{nil, {"--allow-stale"}} {
		out := filepath.Join(t.TempDir(), "b.db")
		if code, err := runCLI(append([]string{"backup", "--out", out, "--data-dir", cfg.DataDir}, extra...)...); code != 0 {
			t.Fatalf("backup %v of a node just restarted: exit %d (%v)", extra, code, err)
		}
		if info, err := eventstore.InspectBackup(context.Background(), out); err != nil || info.Head != head {
			t.Errorf("backup %v: head %d (%v), want %d", extra, info.Head, err, head)
		}
	}
}
