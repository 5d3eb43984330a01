package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJoinChecksTheJoinersHistory: a node that lost its Raft directory but
// kept its event store joins again as a fresh Raft node. With this
// cluster's store it is admitted and catches up (its FSM skips what the
// store already has). With a store written by another cluster it is
// refused: skipping "already applied" entries would serve that other
// history as this cluster's.
func TestJoinChecksTheJoinersHistory(t *testing.T) {
	cfgs := fwConfigs(t, 3)
	nodes := fwStartCluster(t, cfgs)
	li := fwLeaderIndex(t, nodes)
	ana := registerUser(t, nodes[li], "ana")
	ana.do("POST", "/api/appointments", appointmentBody("before", time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC), time.Hour)).
		expect(t, http.StatusCreated)

	// Its own history: admitted, catches up.
	fi := (li + 1) % 3
	if err := nodes[fi].Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cfgs[fi].DataDir, "raft")); err != nil {
		t.Fatal(err)
	}
	r := ana.do("POST", "/api/appointments", appointmentBody("while away", time.Date(2027, 3, 2, 9, 0, 0, 0, time.UTC), time.Hour)).
		expect(t, http.StatusCreated)
	var a struct {
		ID string `json:"id"`
	}
	r.JSON(t, &a)
	back := startNode(t, cfgs[fi])
	ana.on(back).do("GET", "/api/appointments/"+a.ID+"?min_position="+r.Header.Get("X-Agenda-Position"), nil).
		expect(t, http.StatusOK)

	// Another cluster's history: a single node with writes of its own,
	// whose Raft directory is then lost, started with this cluster's
	// seeds and secret.
	other := startNode(t, testConfig(t, t.TempDir()))
	registerUser(t, other, "xavier")
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	ocfg := other.Config
	if err := os.RemoveAll(filepath.Join(ocfg.DataDir, "raft")); err != nil {
		t.Fatal(err)
	}
	ocfg.NodeID, ocfg.HTTPAddr, ocfg.RaftAddr = "node-x", freeAddr(t), freeAddr(t)
	ocfg.DiscoverySeeds, ocfg.BootstrapExpect = cfgs[0].DiscoverySeeds, 0
	intruder := &Node{Config: ocfg, Logger: testLogger()}
	if err := intruder.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { intruder.Close() })

	// The follower above was back within a gossip round or two; give the
	// intruder several seconds.
	expectRefused(t, nodes[li], intruder)
	// The cluster carries on.
	ana.on(back).do("POST", "/api/appointments", appointmentBody("after", time.Date(2027, 3, 3, 9, 0, 0, 0, time.UTC), time.Hour)).
		expect(t, http.StatusCreated)
}

// TestJoinRefusesAStoreFromBeforeARestore: what a fault review found. A
// restore founds a new cluster whose Raft log numbers its entries from 1
// again. A node of the old cluster, its raft directory gone, kept a store
// whose events are a prefix of the restored history, so it was admitted,
// made a voter, skipped the new cluster's first entries as "applied", and
// served a fraction of the history as ready (later it halted the cluster).
// Now the restore draws a new lineage, and a store of another lineage is
// refused. A node that joined the restored cluster afresh takes its
// lineage, and comes back after losing its raft directory.
func TestJoinRefusesAStoreFromBeforeARestore(t *testing.T) {
	dirA := t.TempDir()
	cfgA := testConfig(t, dirA)
	cfgA.NodeID, cfgA.HTTPAddr = "node-a", freeAddr(t)
	a := startNode(t, cfgA)
	ana := registerUser(t, a, "ana")
	for d := range 5 {
		ana.do("POST", "/api/appointments", appointmentBody("old", time.Date(2027, 3, 1+d, 9, 0, 0, 0, time.UTC), time.Hour)).
			expect(t, http.StatusCreated)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	bk := filepath.Join(t.TempDir(), "a.backup")
	if err := backupCmd([]string{"-data-dir", dirA, "-out", bk}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	dirR := filepath.Join(t.TempDir(), "r")
	if err := restoreCmd([]string{"-from", bk, "-data-dir", dirR}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	cfgR := testConfig(t, dirR)
	cfgR.NodeID, cfgR.HTTPAddr = "node-r", freeAddr(t)
	r := startNode(t, cfgR)
	ana = newClient(t, r)
	ana.login("ana", "password-ana")
	for d := range 3 {
		ana.do("POST", "/api/appointments", appointmentBody("new", time.Date(2027, 4, 1+d, 9, 0, 0, 0, time.UTC), time.Hour)).
			expect(t, http.StatusCreated)
	}

	// A fresh node joins the restored cluster, and comes back after
	// losing its raft directory: same lineage, admitted.
	cfgB := testConfig(t, t.TempDir())
	cfgB.NodeID, cfgB.HTTPAddr = "node-b", freeAddr(t)
	cfgB.DiscoverySeeds = []string{cfgR.HTTPAddr}
	b := startNode(t, cfgB)
	w := ana.do("POST", "/api/appointments", appointmentBody("seen by b", time.Date(2027, 5, 1, 9, 0, 0, 0, time.UTC), time.Hour)).
		expect(t, http.StatusCreated)
	onB := func() {
		t.Helper()
		got := ana.on(b).do("GET", "/api/agenda?from=2027-03-01T00:00:00Z&to=2027-06-01T00:00:00Z&min_position="+w.Header.Get("X-Agenda-Position"), nil).
			expect(t, http.StatusOK)
		if body := string(got.Body); strings.Count(body, `"title":"old"`) != 5 || strings.Count(body, `"title":"new"`) != 3 || !strings.Contains(body, "seen by b") {
			t.Fatalf("node b's agenda of ana lacks what the restored cluster holds: %s", body)
		}
	}
	onB()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cfgB.DataDir, "raft")); err != nil {
		t.Fatal(err)
	}
	b = startNode(t, cfgB)
	onB()

	// The old node, its raft directory lost, pointed at the restored
	// cluster.
	if err := os.RemoveAll(filepath.Join(dirA, "raft")); err != nil {
		t.Fatal(err)
	}
	cfgA.DiscoverySeeds = []string{cfgR.HTTPAddr}
	old := &Node{Config: cfgA, Logger: testLogger()}
	if err := old.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	expectRefused(t, r, old)
	ana.do("POST", "/api/appointments", appointmentBody("after", time.Date(2027, 4, 9, 9, 0, 0, 0, time.UTC), time.Hour)).
		expect(t, http.StatusCreated)
}

// expectRefused checks, for four seconds, that leader never lists the
// node refused in its Raft configuration, then that the node does not say
// it is ready.
func expectRefused(t *testing.T, leader, refused *Node) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range fwGetStatus(t, leader).Nodes {
			if m.ID == refused.Config.NodeID && (strings.EqualFold(m.Suffrage, "voter") || strings.EqualFold(m.Suffrage, "nonvoter")) {
				t.Fatalf("the node with another history was admitted: %+v", m)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://" + refused.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("the refused node says it is ready")
	}
}
