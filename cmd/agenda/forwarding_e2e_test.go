package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fwStatus is the body of GET /cluster/status.
type fwStatus struct {
	NodeID       string `json:"node_id"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	LeaderAddr   string `json:"leader_addr"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Position     int64  `json:"position"`
	Nodes        []struct {
		ID       string     `json:"id"`
		Address  string     `json:"address"`
		Suffrage string     `json:"suffrage"`
		LastSeen *time.Time `json:"last_seen"`
		Source   string     `json:"source"`
	} `json:"nodes"`
}

func fwGetStatus(t testing.TB, n *Node) fwStatus {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/cluster/status")
	if err != nil {
		t.Fatalf("cluster status of %s: %v", n.Config.NodeID, err)
	}
	defer resp.Body.Close()
	var st fwStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode cluster status: %v", err)
	}
	return st
}

// fwConfigs returns the configurations of size nodes started with the
// same command line: BOOTSTRAP_EXPECT=size and every node's HTTP address as
// seeds (its own included, as a real deployment would).
func fwConfigs(t testing.TB, size int) []Config {
	t.Helper()
	cfgs := make([]Config, size)
	var seeds []string
	for i := range cfgs {
		cfgs[i] = testConfig(t, t.TempDir())
		cfgs[i].NodeID = fmt.Sprintf("node-%d", i+1)
		cfgs[i].HTTPAddr = freeAddr(t)
		cfgs[i].BootstrapExpect = size
		seeds = append(seeds, cfgs[i].HTTPAddr)
	}
	for i := range cfgs {
		cfgs[i].DiscoverySeeds = seeds
	}
	return cfgs
}

// fwStartCluster opens every node at once (none can be ready before the
// others are up) and waits until all are ready.
func fwStartCluster(t testing.TB, cfgs []Config) []*Node {
	t.Helper()
	nodes := make([]*Node, len(cfgs))
	for i, cfg := range cfgs {
		nodes[i] = &Node{Config: cfg, Logger: testLogger()}
		if err := nodes[i].Open(context.Background()); err != nil {
			t.Fatalf("open %s: %v", cfg.NodeID, err)
		}
		n := nodes[i]
		t.Cleanup(func() { n.Close() })
	}
	for _, n := range nodes {
		waitReady(t, "http://"+n.HTTPAddr())
	}
	return nodes
}

// fwLeaderIndex waits until every given node agrees on one leader and returns
// its index in nodes.
func fwLeaderIndex(t testing.TB, nodes []*Node) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		leader, agree := "", true
		for _, n := range nodes {
			st := fwGetStatus(t, n)
			if st.LeaderID == "" || (leader != "" && st.LeaderID != leader) {
				agree = false
				break
			}
			leader = st.LeaderID
		}
		if agree {
			for i, n := range nodes {
				if n.Config.NodeID == leader {
					return i
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("nodes did not agree on a leader within 15s")
	return -1
}

// TestClusterFormsFromOneCommandLine starts three nodes with
// BOOTSTRAP_EXPECT=3 and the same seeds and checks that they form one
// cluster of three voters.
func TestClusterFormsFromOneCommandLine(t *testing.T) {
	nodes := fwStartCluster(t, fwConfigs(t, 3))
	li := fwLeaderIndex(t, nodes)
	for _, n := range nodes {
		st := fwGetStatus(t, n)
		if len(st.Nodes) != 3 {
			t.Fatalf("%s lists %d nodes, want 3: %+v", n.Config.NodeID, len(st.Nodes), st.Nodes)
		}
		for _, m := range st.Nodes {
			if m.Suffrage != "voter" {
				t.Errorf("%s: node %s suffrage %q, want voter", n.Config.NodeID, m.ID, m.Suffrage)
			}
		}
	}
	t.Logf("leader: %s", nodes[li].Config.NodeID)
	_ = strings.TrimSpace
}
