package main

// Cluster harness: each node's status, and waiting for a leader, a stable
// cluster or a position.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	agendahttp "github.com/agendahq/agenda/http"
)

// clusterStatus is the body of GET /cluster/status, as the node encodes
// it.
type clusterStatus agendahttp.ClusterStatus

// voters returns the sorted IDs of the voters in s.
func (s clusterStatus) voters() []string {
	var out []string
	for _, n := range s.Nodes {
		if strings.EqualFold(n.Suffrage, "voter") {
			out = append(out, n.ID)
		}
	}
	slices.Sort(out)
	return out
}

// opsClient is for status probes: short timeouts, no test to fail.
var opsClient = &http.Client{Timeout: 2 * time.Second}

// url is the base URL of the node's own HTTP port.
func (n *clusterNode) url() string {
	if n.tc.tls != nil {
		return "https://" + n.httpAddr
	}
	return "http://" + n.httpAddr
}

// httpClient is a client of the cluster's nodes with the given timeout.
func (tc *testCluster) httpClient(timeout time.Duration) *http.Client {
	if tc.tls == nil {
		if timeout == opsClient.Timeout {
			return opsClient
		}
		return &http.Client{Timeout: timeout}
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tc.tls}}
}

// status fetches the node's /cluster/status.
func (n *clusterNode) status() (clusterStatus, error) {
	var s clusterStatus
	resp, err := n.tc.httpClient(opsClient.Timeout).Get(n.url() + "/cluster/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("status %d", resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// ready reports whether the node's /readyz answers 200.
func (n *clusterNode) ready() bool {
	resp, err := n.tc.httpClient(opsClient.Timeout).Get(n.url() + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// eventually polls cond every 50 ms until it returns "" (done) or d has
// passed, then fails with cond's last word. It fails at once if a node died.
func (tc *testCluster) eventually(d time.Duration, what string, cond func() string) {
	tc.t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for {
		tc.checkAlive()
		if last = cond(); last == "" {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("%s: not after %v: %s", what, d, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStable waits until every node of group (default: every running node)
// is ready, they all follow the same leader, which is one of them, and the
// leader's configuration has exactly group's nodes as voters — or, with
// allowOthers, at least them (nodes cut off or stopped are still members).
// It returns the leader.
func (tc *testCluster) waitStable(d time.Duration, group []*clusterNode, allowOthers bool) *clusterNode {
	tc.t.Helper()
	if group == nil {
		for _, n := range tc.nodes {
			if n.running() {
				group = append(group, n)
			}
		}
	}
	var leader *clusterNode
	tc.eventually(d, "cluster stable with one leader", func() string {
		leader = nil
		leaderID := ""
		for _, n := range group {
			s, err := n.status()
			if err != nil {
				return fmt.Sprintf("%s: %v", n.id, err)
			}
			if s.LeaderID == "" {
				return fmt.Sprintf("%s knows no leader", n.id)
			}
			if leaderID == "" {
				leaderID = s.LeaderID
			} else if s.LeaderID != leaderID {
				return fmt.Sprintf("%s follows %s, another node %s", n.id, s.LeaderID, leaderID)
			}
			if !n.ready() {
				return fmt.Sprintf("%s not ready", n.id)
			}
		}
		for _, n := range group {
			if n.id == leaderID {
				leader = n
			}
		}
		if leader == nil {
			return fmt.Sprintf("leader %s is not in the group", leaderID)
		}
		s, err := leader.status()
		if err != nil {
			return err.Error()
		}
		if s.State != "Leader" {
			return fmt.Sprintf("%s is %s, not Leader", leader.id, s.State)
		}
		voters := s.voters()
		for _, n := range group {
			if !slices.Contains(voters, n.id) {
				return fmt.Sprintf("%s is not a voter: voters %v", n.id, voters)
			}
		}
		if !allowOthers && len(voters) != len(group) {
			return fmt.Sprintf("voters %v, want %d", voters, len(group))
		}
		return ""
	})
	return leader
}

// followers returns the running nodes of group other than leader.
func followersOf(group []*clusterNode, leader *clusterNode) []*clusterNode {
	var out []*clusterNode
	for _, n := range group {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

// waitPosition waits until every node of group has applied the event at
// position pos to its read model.
func (tc *testCluster) waitPosition(d time.Duration, group []*clusterNode, pos int64) {
	tc.t.Helper()
	tc.eventually(d, fmt.Sprintf("every node at position %d", pos), func() string {
		for _, n := range group {
			s, err := n.status()
			if err != nil {
				return fmt.Sprintf("%s: %v", n.id, err)
			}
			if s.Position < pos {
				return fmt.Sprintf("%s at position %d", n.id, s.Position)
			}
		}
		return ""
	})
}

// ---------------------------------------------------------------------------
// Faults.
