package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Multi-process cluster scenarios; the harness (and how partitions are made)
// is described in cluster_harness_test.go. Every scenario ends by stopping
// the nodes and comparing their event stores byte for byte. This file holds
// writes on every node and killed nodes; cluster_partition_test.go the
// partitions and a slow network; cluster_join_test.go joining, with the
// wrong secret or from a snapshot.

// clusterTimeout bounds each wait for the cluster to settle: generous, as
// two cores run every node; the tests measure no speed (the benchmarks in
// clusterbench_test.go do).
const clusterTimeout = 30 * time.Second

// startCluster starts a cluster of size nodes and waits until it is stable.
func startCluster(t *testing.T, size int) (*testCluster, *clusterNode) {
	t.Helper()
	tc := newTestCluster(t, size)
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	t.Logf("cluster of %d formed; leader %s", size, leader.id)
	return tc, leader
}

// maxPosition returns the highest position among ws.
func maxPosition(ws []written) int64 {
	var p int64
	for _, w := range ws {
		p = max(p, w.Position)
	}
	return p
}

// (a) Writes on any node; reads with min_position on every node.
func TestClusterWritesOnAnyNodeReadEverywhere(t *testing.T) {
	tc, _ := startCluster(t, 3)

	// One user per node, registered through that node (followers forward).
	users := make([]*client, len(tc.nodes))
	for i, n := range tc.nodes {
		users[i] = tc.registerOn(n, fmt.Sprintf("anynode%d", i+1))
	}

	// Sequential writes on every node, each read back at once on every
	// node with min_position.
	var all []written
	slot := 0
	for i, n := range tc.nodes {
		for k := 0; k < 5; k++ {
			slot++
			w := mustCreateSlot(t, users[i], slot)
			w.Node = n.id
			tc.expectVisibleEverywhere(users[i], tc.nodes, []written{w})
			all = append(all, w)
		}
	}

	// Concurrent writes through every node at once; each user writes
	// through two nodes at the same time. The contract lets a node answer
	// "conflict" (409, "retry") when concurrent changes to the same records
	// keep beating it; the client retries then, as told.
	var mu sync.Mutex
	var wg sync.WaitGroup
	var conflicts int
	errs := make(chan string, 100)
	for i := range tc.nodes {
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func(u *client, first int) {
				defer wg.Done()
				for k := 0; k < 10; k++ {
					var r *response
					var w *written
					var err error
					for try := 0; try < 10; try++ {
						r, w, err = tryCreateSlot(u, first+k)
						if err != nil || r.Status != http.StatusConflict || r.ErrorCode() != "conflict" {
							break
						}
						mu.Lock()
						conflicts++
						mu.Unlock()
					}
					if err != nil || w == nil {
						st := 0
						if r != nil {
							st = r.Status
						}
						errs <- fmt.Sprintf("%s slot %d: status %d, %v %s", u.base, first+k, st, err, responseBody(r))
						return
					}
					mu.Lock()
					all = append(all, *w)
					mu.Unlock()
				}
			}(users[i].as(tc.nodes[(i+g)%len(tc.nodes)]), 1000+g*100)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent write failed: %s", e)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("concurrent writes: 60 acknowledged; %d answers were 409 conflict (retried)", conflicts)

	// The same slot booked for the same user through every node at once:
	// exactly one wins, the others are told of the conflict.
	for round := 0; round < 10; round++ {
		slot := 2000 + round
		results := make(chan *response, len(tc.nodes))
		for _, n := range tc.nodes {
			go func(c *client) {
				r, w, err := tryCreateSlot(c, slot)
				if err != nil {
					r = &response{Body: []byte(err.Error())}
				}
				if w != nil {
					mu.Lock()
					all = append(all, *w)
					mu.Unlock()
				}
				results <- r
			}(users[0].as(n))
		}
		won := 0
		for range tc.nodes {
			r := <-results
			switch {
			case r.Status == http.StatusCreated:
				won++
			case r.Status == http.StatusConflict && r.ErrorCode() == "schedule_conflict":
			default:
				t.Fatalf("concurrent booking of slot %d: status %d: %s", slot, r.Status, r.Body)
			}
		}
		if won != 1 {
			t.Fatalf("slot %d booked %d times through different nodes at once, want exactly once", slot, won)
		}
	}

	// Positions are unique: no two acknowledged writes share one.
	seen := map[int64]string{}
	for _, w := range all {
		if id, dup := seen[w.Position]; dup {
			t.Fatalf("writes %s and %s both acknowledged at position %d", id, w.ID, w.Position)
		}
		seen[w.Position] = w.ID
	}
	// Every write of every user, on every node, with min_position.
	last := maxPosition(all)
	for _, n := range tc.nodes {
		for i, u := range users {
			r := u.as(n).do("GET", agendaPath(clusterBase, clusterBase.Add(24*365*time.Hour))+fmt.Sprintf("&min_position=%d", last), nil)
			r.expect(t, http.StatusOK)
			var entries []map[string]any
			r.JSON(t, &entries)
			want := 5 + 20
			if i == 0 {
				want += 10
			}
			if len(entries) != want {
				t.Fatalf("user %d's agenda on %s has %d entries, want %d", i+1, n.id, len(entries), want)
			}
		}
	}
	tc.stopAndCompareEventStores(nil, last)
}

// (b) The leader is SIGKILLed: the survivors elect a leader and take writes
// again; the killed node restarts on its data dir and converges.
func TestClusterLeaderKilled(t *testing.T) {
	tc, leader := startCluster(t, 3)
	follower := followersOf(tc.nodes, leader)[0]
	u := tc.registerOn(follower, "leaderkill")
	var acked []written
	for s := 1; s <= 10; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	// Background writers through every node, across the kill and the
	// restart: whatever any node acknowledged must survive.
	var bgUsers []*client
	for i := range tc.nodes {
		bgUsers = append(bgUsers, tc.registerOn(tc.nodes[i], fmt.Sprintf("leaderkillbg%d", i+1)))
	}
	bg := startBgWriters(bgUsers, tc.nodes, 1)
	time.Sleep(500 * time.Millisecond)

	leader.kill()
	survivors := othersThan(tc.nodes, leader)
	w, took := tc.createEventually(u.as(survivors[0]), 100, clusterTimeout)
	acked = append(acked, w)
	t.Logf("first write after killing leader %s acknowledged after %v", leader.id, took)
	newLeader := tc.waitStable(clusterTimeout, survivors, true)
	if newLeader == leader {
		t.Fatalf("the killed node is still leader")
	}
	for s := 101; s <= 110; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(survivors[s%2]), s))
	}
	tc.expectVisibleEverywhere(u, survivors, acked)

	leader.start()
	tc.waitStable(clusterTimeout, tc.nodes, false)
	tc.expectVisibleEverywhere(u, tc.nodes, acked)
	// The restarted node takes writes again too.
	acked = append(acked, mustCreateSlot(t, u.as(leader), 200))
	tc.expectVisibleEverywhere(u, tc.nodes, acked[len(acked)-1:])
	time.Sleep(300 * time.Millisecond)
	bgAcked, attempts := bg.end()
	t.Logf("background writers: %d of %d writes acknowledged", len(bgAcked), attempts)
	expectAllVisible(tc, bgUsers, bgAcked)
	tc.stopAndCompareEventStores(nil, max(maxPosition(acked), maxPosition(bgAcked)))
}

// expectAllVisible reads every write of ws (made by startWriters with
// users, user i through node i) on every node.
func expectAllVisible(tc *testCluster, users []*client, ws []written) {
	tc.t.Helper()
	for i, u := range users {
		var mine []written
		for _, w := range ws {
			if w.Node == tc.nodes[i].id {
				mine = append(mine, w)
			}
		}
		tc.expectVisibleEverywhere(u, tc.nodes, mine)
	}
}

// (f) A five-node cluster survives two SIGKILLs (the leader and a
// follower), and the two converge when restarted.
func TestClusterFiveNodesSurviveTwoKills(t *testing.T) {
	tc, leader := startCluster(t, 5)
	u := tc.registerOn(leader, "fivenodes")
	var acked []written
	for s := 1; s <= 10; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%5]), s))
	}
	victims := []*clusterNode{leader, followersOf(tc.nodes, leader)[0]}
	for _, v := range victims {
		v.kill()
	}
	survivors := othersThan(othersThan(tc.nodes, victims[0]), victims[1])
	w, took := tc.createEventually(u.as(survivors[0]), 100, clusterTimeout)
	acked = append(acked, w)
	t.Logf("first write after killing %s and %s acknowledged after %v", victims[0].id, victims[1].id, took)
	tc.waitStable(clusterTimeout, survivors, true)
	for s := 101; s <= 115; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(survivors[s%3]), s))
	}
	tc.expectVisibleEverywhere(u, survivors, acked)

	for _, v := range victims {
		v.start()
	}
	tc.waitStable(clusterTimeout, tc.nodes, false)
	tc.expectVisibleEverywhere(u, victims, acked)
	tc.stopAndCompareEventStores(nil, maxPosition(acked))
}

// bodyOf returns r's body, "" for no response.
func responseBody(r *response) string {
	if r == nil {
		return ""
	}
	return string(r.Body)
}
