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
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range fwGetStatus(t, nodes[li]).Nodes {
			if m.ID == "node-x" && strings.EqualFold(m.Suffrage, "voter") {
				t.Fatalf("the node with another cluster's history was made a voter: %+v", m)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://" + intruder.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("the refused node says it is ready")
	}
	// The cluster carries on.
	ana.on(back).do("POST", "/api/appointments", appointmentBody("after", time.Date(2027, 3, 3, 9, 0, 0, 0, time.UTC), time.Hour)).
		expect(t, http.StatusCreated)
}
