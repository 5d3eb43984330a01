package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestClusterGroupReadModelsConverge: group work done through every node —
// invitations and their answers, appointments imposed down the ranks and
// confirmed or cancelled in a flat group, a rank change, a leave, a
// removal — while the leader is killed and restarted, a node rebuilds its
// projections online and another offline, and a follower loses its whole
// data dir and catches up from the others' snapshot, ends in the same read
// model on every node, table by table: groups, members,
// participants, invitations, notifications and feeds
// (stopAndCompareEventStores compares them). The linearizability soak
// writes personal appointments only; this is where replicas taking
// different paths (a live apply, a restart, a snapshot and a rebuild)
// through the group projections are compared.
func TestClusterGroupReadModelsConverge(t *testing.T) {
	tc := newTestCluster(t, 3)
	for _, n := range tc.nodes {
		n.snapshotOften(16, 8, "200ms")
		n.env["AUDIT_API_TOKEN"] = testAuditToken
	}
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	fs := followersOf(tc.nodes, leader)
	ana, bob := tc.registerOn(leader, "ana"), tc.registerOn(fs[0], "bob")
	cleo, dave := tc.registerOn(fs[1], "cleo"), tc.registerOn(leader, "dave")

	var last int64
	do := func(c *client, method, path string, body any, status int) *response {
		t.Helper()
		r := c.withT(t).do(method, path, body).expect(t, status)
		if p, err := strconv.ParseInt(r.Header.Get("X-Agenda-Position"), 10, 64); err == nil {
			last = max(last, p)
		}
		return r
	}
	day := time.Date(2031, 9, 1, 8, 0, 0, 0, time.UTC)
	hour := 0
	slot := func(title string) map[string]any {
		hour++
		start := day.Add(time.Duration(hour) * time.Hour)
		return map[string]any{"title": title, "start": start.Format(time.RFC3339), "end": start.Add(time.Hour).Format(time.RFC3339)}
	}
	idOf := func(r *response) string {
		var v struct {
			ID string `json:"id"`
		}
		r.JSON(t, &v)
		return v.ID
	}
	// round writes a little of everything through the given nodes.
	round := func(n int, on []*clusterNode) {
		at := func(i int) *clusterNode { return on[i%len(on)] }
		team := createGroup(t, ana.as(at(0)), fmt.Sprintf("Team %d", n), true)
		last = max(last, joinGroup(t, ana.as(at(1)), bob.as(at(2)), team, 10))
		last = max(last, joinGroup(t, ana.as(at(2)), cleo.as(at(0)), team, 5))
		flat := createGroup(t, bob.as(at(1)), fmt.Sprintf("Pair %d", n), false)
		last = max(last, joinGroup(t, bob.as(at(0)), cleo.as(at(1)), flat, 0))
		last = max(last, joinGroup(t, bob.as(at(2)), dave.as(at(0)), flat, 0))

		// Imposed on bob and cleo; bob's own, below ana, on cleo only.
		do(ana.as(at(1)), "POST", "/api/groups/"+team+"/appointments", slot("imposed"), http.StatusCreated)
		do(bob.as(at(2)), "POST", "/api/groups/"+team+"/appointments", slot("bob's"), http.StatusCreated)
		do(cleo.as(at(0)), "POST", "/api/appointments", slot("personal"), http.StatusCreated)
		// A flat appointment both accept, one dave declines, one left pending.
		ok := idOf(do(bob.as(at(0)), "POST", "/api/groups/"+flat+"/appointments", slot("agreed"), http.StatusCreated))
		do(cleo.as(at(1)), "POST", "/api/appointments/"+ok+"/accept", nil, http.StatusOK)
		do(dave.as(at(2)), "POST", "/api/appointments/"+ok+"/accept", nil, http.StatusOK)
		no := idOf(do(bob.as(at(1)), "POST", "/api/groups/"+flat+"/appointments", slot("refused"), http.StatusCreated))
		do(dave.as(at(0)), "POST", "/api/appointments/"+no+"/decline", nil, http.StatusOK)
		pending := idOf(do(bob.as(at(2)), "POST", "/api/groups/"+flat+"/appointments", slot("pending"), http.StatusCreated))
		do(cleo.as(at(0)), "POST", "/api/appointments/"+pending+"/accept", nil, http.StatusOK)

		// A rank change, an invitation declined, a leave, a removal (which
		// decides the pending appointment again), a rename.
		do(ana.as(at(1)), "PATCH", "/api/groups/"+team+"/members/"+cleo.userID, map[string]any{"rank": 7}, http.StatusOK)
		do(ana.as(at(2)), "POST", "/api/groups/"+team+"/members", map[string]any{"user_id": dave.userID, "rank": 1}, http.StatusCreated)
		do(dave.as(at(0)), "POST", "/api/groups/"+team+"/decline", nil, http.StatusNoContent)
		do(cleo.as(at(1)), "DELETE", "/api/groups/"+team+"/members/"+cleo.userID, nil, http.StatusNoContent)
		do(bob.as(at(2)), "DELETE", "/api/groups/"+flat+"/members/"+dave.userID, nil, http.StatusNoContent)
		do(ana.as(at(0)), "PATCH", "/api/groups/"+team, map[string]any{"name": fmt.Sprintf("Team %d renamed", n)}, http.StatusOK)
	}

	round(1, tc.nodes)

	// The leader dies; the other two carry on, then it comes back.
	leader.kill()
	t.Logf("killed the leader %s", leader.id)
	tc.waitStable(clusterTimeout, fs, true)
	round(2, fs)
	leader.start()
	leader = tc.waitStable(clusterTimeout, nil, false)

	// One follower rebuilds each projection online while a round writes
	// (blue/green: built aside, then switched to; one at a time).
	online := followersOf(tc.nodes, leader)[0]
	admin := map[string]string{"X-Audit-Token": testAuditToken}
	for i, p := range []string{"planning", "users"} {
		if r := ana.as(online).raw("POST", "/api/admin/projections/"+p+"/rebuild", nil, admin); r.Status != http.StatusAccepted {
			t.Fatalf("rebuild %s on %s: %d %s", p, online.id, r.Status, r.Body)
		}
		round(3+i, tc.nodes)
		tc.eventually(clusterTimeout, "the online rebuild of "+p, func() string {
			var ps struct {
				Projections []struct {
					Name        string `json:"name"`
					Rebuild     any    `json:"rebuild"`
					LastRebuild *struct {
						State string `json:"state"`
						Error string `json:"error"`
					} `json:"last_rebuild"`
				} `json:"projections"`
			}
			ana.as(online).raw("GET", "/api/admin/projections", nil, admin).JSON(t, &ps)
			for _, q := range ps.Projections {
				switch {
				case q.Name != p:
				case q.Rebuild != nil || q.LastRebuild == nil:
					return p + " still rebuilding on " + online.id
				case q.LastRebuild.State != "done":
					t.Fatalf("rebuild of %s on %s ended %q: %s", p, online.id, q.LastRebuild.State, q.LastRebuild.Error)
				}
			}
			return ""
		})
	}

	// A follower loses its whole data dir and comes back empty: it
	// catches up from a snapshot and rebuilds its read model from it.
	lost := followersOf(tc.nodes, leader)[1] // not the one rebuilt online
	lost.kill()
	if err := os.RemoveAll(lost.dataDir); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s lost its data dir", lost.id)
	round(5, followersOf(tc.nodes, lost))
	// With a snapshot on the leader its log no longer starts at entry 1,
	// so the empty node can only catch up from a snapshot.
	tc.eventually(clusterTimeout, "a snapshot on the leader", func() string {
		if len(snapshotDirs(leader)) == 0 {
			return leader.id + " has taken no snapshot"
		}
		return ""
	})
	lost.start()
	tc.waitStable(clusterTimeout, nil, false)

	// The leader rebuilds offline: stopped, rebuilt with the CLI, started.
	// So each node took its own path: a live apply and an online rebuild,
	// a snapshot into an empty data dir, an offline rebuild.
	offline := leader
	offline.stop()
	if code, err := runCLI("projections", "rebuild", "-data-dir", offline.dataDir); code != 0 {
		t.Fatalf("offline rebuild on %s: exit %d: %v", offline.id, code, err)
	}
	offline.start()
	tc.waitStable(clusterTimeout, nil, false)
	round(6, tc.nodes)

	tc.stopAndCompareEventStores(nil, last)
}
