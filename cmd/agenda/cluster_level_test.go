package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/agendahq/agenda/events"
)

// levels returns the cluster's event level as n counts it, and the level
// it lists for each node.
func (n *clusterNode) levels() (int, map[string]int, error) {
	s, err := n.status()
	if err != nil {
		return 0, nil, err
	}
	per := map[string]int{}
	for _, nd := range s.Nodes {
		per[nd.ID] = nd.EventLevel
	}
	return s.EventLevel, per, nil
}

// waitLevel waits until every running node counts the cluster at level
// want.
func (tc *testCluster) waitLevel(want int) {
	tc.t.Helper()
	tc.eventually(clusterTimeout, fmt.Sprintf("every node at event level %d", want), func() string {
		for _, n := range tc.nodes {
			l, per, err := n.levels()
			if err != nil {
				return fmt.Sprintf("%s: %v", n.id, err)
			}
			if l != want {
				return fmt.Sprintf("%s counts level %d (nodes %v)", n.id, l, per)
			}
		}
		return ""
	})
}

// create POSTs body to path as c through the cluster, retrying while it
// answers 503, and returns the 201 answer's version and ID.
func (tc *testCluster) create(c *client, path string, body any) (id string, version int64) {
	tc.t.Helper()
	tc.eventually(clusterTimeout, "POST "+path, func() string {
		r, err := c.send("POST", path, body)
		switch {
		case err != nil:
			return err.Error()
		case r.Status == http.StatusServiceUnavailable:
			return string(r.Body)
		case r.Status != http.StatusCreated:
			tc.t.Fatalf("POST %s: status %d: %s", path, r.Status, r.Body)
		}
		var out struct {
			ID      string `json:"id"`
			Version int64  `json:"version"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			tc.t.Fatal(err)
		}
		id, version = out.ID, out.Version
		return ""
	})
	return id, version
}

// A rolling update must not write what a node still on an older build
// halts on. One node announces event level 1 (EVENT_LEVEL=1, as a build
// from before levels would by announcing none): through any node, a group
// and a group appointment are written in the forms level 1 reads (the
// store's forms are the check: the pinned node runs this build, which
// would read the others too; a real older build was checked by hand, see
// "Event levels" in cluster/DESIGN.md). Once that node runs at this
// build's level, the one-event forms are written, and versions start at 1
// again.
func TestClusterWritesOnlyWhatEveryNodeReads(t *testing.T) {
	tc := newTestCluster(t, 3)
	old := tc.nodes[2]
	old.env["EVENT_LEVEL"] = "1"
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	tc.waitLevel(events.MinLevel)
	if _, per, err := tc.nodes[0].levels(); err != nil || per["n1"] != events.Level || per["n3"] != events.MinLevel {
		t.Fatalf("levels listed: %v, %v; want n1 at %d and n3 at %d", per, err, events.Level, events.MinLevel)
	}

	ana := tc.registerOn(tc.nodes[0], "ana")
	bob := tc.registerOn(tc.nodes[1], "bob")
	appt := map[string]any{"title": "Planning", "start": clusterBase.Format("2006-01-02T15:04:05Z"),
		"end": clusterBase.Add(30 * 60e9).Format("2006-01-02T15:04:05Z")}
	group := func(via *clusterNode, name string) (string, int64, int64) {
		a := ana.as(via)
		id, v := tc.create(a, "/api/groups", map[string]any{"name": name, "hierarchical": true})
		tc.create(a, "/api/groups/"+id+"/members", map[string]any{"user_id": bob.userID, "rank": 10})
		tc.eventually(clusterTimeout, "bob accepts", func() string {
			r, err := bob.as(via).send("POST", "/api/groups/"+id+"/accept", nil)
			if err != nil {
				return err.Error()
			}
			if r.Status != http.StatusOK {
				return fmt.Sprintf("status %d: %s", r.Status, r.Body)
			}
			return ""
		})
		aid, av := tc.create(a, "/api/groups/"+id+"/appointments", appt)
		// The answers are the state the node projected.
		for path, want := range map[string]int64{"/api/groups/" + id: v + 2, "/api/appointments/" + aid: av} {
			r, err := a.send("GET", path, nil)
			if err != nil || r.Status != http.StatusOK {
				t.Fatalf("GET %s via %s: %v %v", path, via.id, err, r)
			}
			var got struct {
				Version int64 `json:"version"`
				Members []struct {
					UserID  string `json:"user_id"`
					Version int64  `json:"version"`
				} `json:"members"`
			}
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			// The group moved on by bob's invitation and acceptance.
			if got.Version != want {
				t.Errorf("GET %s via %s: version %d, want %d", path, via.id, got.Version, want)
			}
			for _, m := range got.Members {
				if wantM := map[string]int64{ana.userID: 1, bob.userID: 2}[m.UserID]; m.Version != wantM {
					t.Errorf("GET %s via %s: %s's membership at version %d, want %d", path, via.id, m.UserID, m.Version, wantM)
				}
			}
		}
		appt["start"] = clusterBase.Add(24 * 3600e9).Format("2006-01-02T15:04:05Z")
		appt["end"] = clusterBase.Add(24*3600e9 + 30*60e9).Format("2006-01-02T15:04:05Z")
		clusterBase = clusterBase.Add(48 * 3600e9)
		return id, v, av
	}
	for _, via := range tc.nodes {
		_, gv, av := group(via, "Team via "+via.id)
		// Level 1: the creator's membership and bob's participation are
		// events of their own.
		if gv != 2 || av != 2 {
			t.Errorf("via %s at level 1: group at version %d, appointment at %d; want 2 and 2", via.id, gv, av)
		}
	}
	// Every node applied them (eventually fails at once if one died).
	tc.eventually(clusterTimeout, "every node ready after the level-1 writes", func() string {
		for _, n := range tc.nodes {
			if !n.ready() {
				return n.id + " is not ready"
			}
		}
		return ""
	})

	// The node is updated: it now announces this build's level.
	old.stop()
	delete(old.env, "EVENT_LEVEL")
	old.start()
	tc.waitStable(clusterTimeout, nil, false)
	tc.waitLevel(events.Level)
	for _, via := range tc.nodes {
		_, gv, av := group(via, "Crew via "+via.id)
		if gv != 1 || av != 1 {
			t.Errorf("via %s at level %d: group at version %d, appointment at %d; want 1 and 1", via.id, events.Level, gv, av)
		}
	}

	tc.stopAndCompareEventStores(nil, 1)
	forms := map[string]int{}
	for _, e := range readEventStore(t, old.dataDir+"/events.db") {
		if e.Type == "group.created" || e.Type == "appointment.created" {
			forms[fmt.Sprintf("%s v%d", e.Type, e.SchemaVersion)]++
		}
	}
	want := map[string]int{"group.created v1": 3, "appointment.created v1": 3, "group.created v2": 3, "appointment.created v2": 3}
	if fmt.Sprint(forms) != fmt.Sprint(want) {
		t.Errorf("forms written: %v, want %v", forms, want)
	}
}
