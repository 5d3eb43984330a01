package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClusterEveryAddressChanges is a host or daemon restart under an
// orchestrator: every node comes back with its data but on a new IP and
// port, while the Raft configuration still lists the old IP addresses.
// Nobody can be re-addressed by a leader, since no leader can be elected
// at the old addresses; the nodes must find each other by gossip, dial each
// other by node ID at the new addresses, elect, and re-address the
// configuration, with no operator action and nothing lost.
func TestClusterEveryAddressChanges(t *testing.T) {
	tc := newDirectCluster(t, 3) // advertise IP:port, as a Swarm task does
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	u := tc.registerOn(tc.nodes[0], "moved")
	knownEverywhere(tc, u)
	var acked []written
	for s := 1; s <= 9; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	old := map[string]string{}
	for _, n := range tc.nodes {
		old[n.id] = n.raftAddr
		n.kill()
	}
	// New host and port for every node; the seeds follow, as a DNS name's
	// records would.
	for i, n := range tc.nodes {
		host := []string{"127.0.0.21", "127.0.0.22", "127.0.0.23"}[i]
		n.httpAddr, n.raftAddr = freeAddrOn(t, host), freeAddrOn(t, host)
		n.env["HTTP_ADDR"], n.env["ADVERTISE_ADDR"] = n.httpAddr, n.httpAddr
		n.env["RAFT_ADDR"], n.env["RAFT_ADVERTISE_ADDR"] = n.raftAddr, n.raftAddr
	}
	for _, n := range tc.nodes {
		n.env["DISCOVERY_SEEDS"] = tc.seedsFor(n)
	}
	start := time.Now()
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	t.Logf("every node moved; leader %s elected and every node ready after %v", leader.id, time.Since(start))
	s, err := leader.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tc.nodes {
		for _, srv := range s.Nodes {
			if srv.ID == n.id && srv.Address != n.raftAddr {
				t.Errorf("%s is at %s in the configuration, want its new address %s (was %s)", n.id, srv.Address, n.raftAddr, old[n.id])
			}
		}
	}
	tc.expectVisibleEverywhere(u, tc.nodes, acked)
	acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[1]), 100))
	tc.expectVisibleEverywhere(u, tc.nodes, acked[len(acked)-1:])
	tc.stopAndCompareEventStores(nil, maxPosition(acked))
}

// knownEverywhere waits until every node's read model knows u's user, so
// that writes through any node find it.
func knownEverywhere(tc *testCluster, u *client) {
	tc.t.Helper()
	for _, n := range tc.nodes {
		tc.eventually(clusterTimeout, "user known on "+n.id, func() string {
			r, err := u.as(n).send("GET", "/api/me", nil)
			if err != nil {
				return err.Error()
			}
			if r.Status != http.StatusOK {
				return fmt.Sprintf("status %d: %s", r.Status, r.Body)
			}
			return ""
		})
	}
}

// TestClusterRecoverAfterLosingMajority: two of three nodes are gone for
// good, so the survivor can never be elected. `agenda cluster recover`
// (refused while the node runs) makes it the whole cluster: it leads with
// every acknowledged write, takes new ones, and a new node joins it.
func TestClusterRecoverAfterLosingMajority(t *testing.T) {
	tc := newDirectCluster(t, 3)
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	survivor := tc.nodes[0]
	u := tc.registerOn(survivor, "survivor")
	knownEverywhere(tc, u)
	var acked []written
	for s := 1; s <= 6; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	tc.expectVisibleEverywhere(u, tc.nodes, acked)
	recoverArgs := []string{"cluster", "recover", "-data-dir", survivor.dataDir, "-node-id", survivor.id, "-voter", survivor.id + "=" + survivor.raftAddr}
	if err := run(recoverArgs); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("recover with the node running: %v, want a refusal saying it is still running", err)
	}
	for _, n := range tc.nodes {
		n.kill()
	}
	if err := run(append(slices.Clone(recoverArgs[:len(recoverArgs)-1]), "nobody=127.0.0.1:1")); err == nil {
		t.Fatal("recover without this node among the voters: no error")
	}
	// A node whose vote gate is closed (it lost part of its Raft state and
	// had not caught up) may not decide which history survives: a review
	// found recover making such nodes a cluster that could never elect.
	marker := filepath.Join(survivor.dataDir, "raft", "vote-gate")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(recoverArgs); err == nil || !strings.Contains(err.Error(), "may not vote") {
		t.Fatalf("recover of a node that may not vote: %v, want a refusal saying so", err)
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	if err := run(recoverArgs); err != nil {
		t.Fatalf("recover: %v", err)
	}
	survivor.start()
	tc.waitStable(clusterTimeout, []*clusterNode{survivor}, false)
	tc.expectVisibleEverywhere(u, []*clusterNode{survivor}, acked)
	acked = append(acked, mustCreateSlot(t, u.as(survivor), 100))

	fresh := tc.addNode()
	fresh.env["DISCOVERY_SEEDS"] = survivor.env["ADVERTISE_ADDR"]
	fresh.start()
	tc.waitStable(clusterTimeout, []*clusterNode{survivor, fresh}, false)
	tc.expectVisibleEverywhere(u, []*clusterNode{survivor, fresh}, acked)
}
