package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// In a three-node cluster each node's audit trail records the membership
// and leadership changes it saw and the commands it took (forwarded ones
// included, on the node that took them), and a follower's metrics count the
// writes it forwarded.
func TestClusterAuditAndMetrics(t *testing.T) {
	tc := newTestCluster(t, 3)
	for _, n := range tc.nodes {
		n.env["AUDIT_API_TOKEN"] = testAuditToken
	}
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	follower := followersOf(tc.nodes, leader)[0]
	u := tc.registerOn(follower, "clusteraudit")
	mustCreateSlot(t, u, 1) // through the follower: forwarded to the leader

	logs := func(n *clusterNode, action string) []auditLog {
		var out struct {
			Logs []auditLog `json:"logs"`
		}
		r := u.as(n).raw("GET", "/api/admin/audit/logs?limit=1000&action="+action, nil, map[string]string{"X-Audit-Token": testAuditToken})
		if r.Status != http.StatusOK {
			t.Fatalf("audit logs of %s: %d %s", n.id, r.Status, r.Body)
		}
		r.JSON(t, &out)
		return out.Logs
	}
	tc.eventually(10*time.Second, "the follower audits membership, leadership and the command it took", func() string {
		var missing []string
		for _, a := range []string{"node.started", "cluster.membership_changed", "cluster.leader_changed", "appointment.create"} {
			if len(logs(follower, a)) == 0 {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			return "missing " + strings.Join(missing, ", ")
		}
		return ""
	})
	for _, e := range logs(follower, "appointment.create") {
		if e.NodeID != follower.id || e.Actor != u.userID || e.Result != "accepted" {
			t.Errorf("forwarded command audited as %+v; want node %s, actor %s, accepted", e, follower.id, u.userID)
		}
	}
	members := logs(follower, "cluster.membership_changed")
	last := members[0].Details["servers"]
	if s := fmt.Sprint(last); !strings.Contains(s, "n1@") || !strings.Contains(s, "n2@") || !strings.Contains(s, "n3@") {
		t.Errorf("latest membership entry lists %v, want n1, n2 and n3", last)
	}
	if got := metricValue(t, follower, `agenda_forwarded_writes_total{result="ok"}`); got < 1 {
		t.Errorf("follower forwarded_writes_total = %v, want ≥ 1", got)
	}

	// A new leader is audited by the survivors.
	leader.kill()
	survivors := othersThan(tc.nodes, leader)
	newLeader := tc.waitStable(clusterTimeout, survivors, true)
	tc.eventually(10*time.Second, "a survivor audits the new leader", func() string {
		for _, e := range logs(survivors[0], "cluster.leader_changed") {
			if e.Details["leader"] == newLeader.id && e.Details["previous"] != newLeader.id {
				return ""
			}
		}
		return "no leader_changed entry naming " + newLeader.id
	})
	if got := metricValue(t, survivors[0], "agenda_raft_leader_changes_total"); got < 2 {
		t.Errorf("leader_changes_total on %s = %v, want ≥ 2", survivors[0].id, got)
	}
}

// metricValue reads one series from a node's /metrics (0 if absent).
func metricValue(t *testing.T, n *clusterNode, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, series+" "), &v)
			return v
		}
	}
	return 0
}
