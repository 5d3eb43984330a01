package main

// Multi-process cluster scenarios (see cluster_test.go): partitions, one-way
// cuts and a slow network.

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// (c) A follower cut off from the others misses writes, and catches up once
// the partition heals.
func TestClusterFollowerPartitionedCatchesUp(t *testing.T) {
	tc, leader := startCluster(t, 3)
	fs := followersOf(tc.nodes, leader)
	cut, other := fs[0], fs[1]
	u := tc.registerOn(leader, "partfollower")
	before := mustCreateSlot(t, u, 1)
	tc.waitPosition(clusterTimeout, tc.nodes, before.Position)

	tc.isolate(cut)
	var acked []written
	for s := 2; s <= 21; s++ {
		n := leader
		if s%2 == 0 {
			n = other
		}
		acked = append(acked, mustCreateSlot(t, u.as(n), s))
	}
	last := maxPosition(acked)
	st, err := cut.status()
	if err != nil {
		t.Fatalf("status of the cut-off node: %v", err)
	}
	if st.Position >= last {
		t.Fatalf("cut-off node %s is at position %d, which it cannot have reached (last write at %d)", cut.id, st.Position, last)
	}
	// It cannot serve a read that needs what it missed.
	r, err := readAtPosition(u.as(cut), acked[len(acked)-1].ID, last, "")
	if err == nil && r.Status == http.StatusOK {
		t.Fatalf("cut-off node served a read at position %d it cannot have: %s", last, r.Body)
	}
	if err == nil {
		expectError(t, r, http.StatusServiceUnavailable, "unavailable")
	}

	tc.heal()
	tc.waitPosition(clusterTimeout, tc.nodes, last)
	tc.expectVisibleEverywhere(u, []*clusterNode{cut}, acked)
	tc.waitStable(clusterTimeout, tc.nodes, false)
	tc.stopAndCompareEventStores(nil, last)
}

// refusal is a write a node did not acknowledge.
type refusal struct {
	node string
	slot int
	// certain is set when the answer said the write did not happen: a 503
	// not marked details.outcome "unknown". A timeout or an unknown
	// outcome may have committed.
	certain bool
}

// expectNotAcknowledged sends a write to n and fails if it is acknowledged:
// a node on the minority side must answer unavailable (or not at all). It
// returns the refusal, for expectRefusalsHeld once the partition heals.
func expectNotAcknowledged(t *testing.T, u *client, n *clusterNode, slot int) refusal {
	t.Helper()
	c := u.as(n)
	c.http = &http.Client{Timeout: 20 * time.Second}
	start := time.Now()
	r, w, err := tryCreateSlot(c, slot)
	ref := refusal{node: n.id, slot: slot}
	switch {
	case w != nil:
		t.Fatalf("%s, on the minority side, acknowledged a write at position %d", n.id, w.Position)
	case err != nil:
		t.Logf("write on minority-side %s: no answer after %v (%v)", n.id, time.Since(start).Round(time.Millisecond), err)
	default:
		e := expectError(t, r, http.StatusServiceUnavailable, "unavailable")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		ref.certain = e.Details["outcome"] != "unknown"
		t.Logf("write on minority-side %s: status %d after %v (outcome %v)", n.id, r.Status, time.Since(start).Round(time.Millisecond), e.Details["outcome"])
	}
	return ref
}

// expectRefusalsHeld fails if a write that a node said had not happened
// (a plain 503) is in the user's agenda, read with consistency=strong (so
// that whatever committed is seen) once the cluster is whole again.
func expectRefusalsHeld(t *testing.T, u *client, refs []refusal) {
	t.Helper()
	for _, ref := range refs {
		start := clusterBase.Add(time.Duration(ref.slot) * time.Hour)
		var entries []map[string]any
		u.do("GET", agendaPath(start, start.Add(time.Hour))+"&consistency=strong", nil).expect(t, http.StatusOK).JSON(t, &entries)
		switch {
		case len(entries) > 0 && ref.certain:
			t.Fatalf("%s answered 503 (not marked outcome unknown) to the write of slot %d, but it committed: %v", ref.node, ref.slot, entries)
		case len(entries) > 0:
			t.Logf("the write of slot %d refused by %s with an unknown outcome did commit", ref.slot, ref.node)
		}
	}
}

// expectNoStrongRead reads the appointment with consistency=strong on n and
// fails unless n refuses (503) or does not answer: a node cut off from the
// majority cannot know that its copy is current.
func expectNoStrongRead(t *testing.T, u *client, n *clusterNode, id string) {
	t.Helper()
	c := u.as(n)
	c.http = &http.Client{Timeout: 12 * time.Second}
	start := time.Now()
	r, err := c.send("GET", "/api/appointments/"+id+"?consistency=strong", nil)
	switch {
	case err != nil:
		t.Logf("strong read on minority-side %s: no answer after %v (%v)", n.id, time.Since(start).Round(time.Millisecond), err)
	case r.Status == http.StatusOK:
		t.Fatalf("%s, on the minority side, served a consistency=strong read: %s", n.id, r.Body)
	default:
		t.Logf("strong read on minority-side %s: status %d after %v", n.id, r.Status, time.Since(start).Round(time.Millisecond))
		expectError(t, r, http.StatusServiceUnavailable, "unavailable")
	}
}

// (d) A minority — first one follower, then the leader — refuses writes
// and strong reads while the majority elects (if needed) and goes on; once
// healed, everything acknowledged is everywhere.
func TestClusterMinorityPartition(t *testing.T) {
	tc, leader := startCluster(t, 3)
	u := tc.registerOn(leader, "minority")
	first := mustCreateSlot(t, u, 1)
	acked := []written{first}
	tc.waitPosition(clusterTimeout, tc.nodes, first.Position)
	// A strong read works on every node while all is well.
	for _, n := range tc.nodes {
		u.as(n).do("GET", "/api/appointments/"+first.ID+"?consistency=strong", nil).expect(t, http.StatusOK)
	}

	// Background writers, one user per node, write through every node
	// throughout: whatever any node acknowledges must survive.
	var bgUsers []*client
	for i := range tc.nodes {
		bgUsers = append(bgUsers, tc.registerOn(tc.nodes[i], fmt.Sprintf("minoritybg%d", i+1)))
	}
	var bgAcked []written
	bgAttempts := 0

	slot := 10
	var refs []refusal
	for round, pick := range []string{"follower", "leader"} {
		leader = tc.waitStable(clusterTimeout, tc.nodes, false)
		cut := leader
		if pick == "follower" {
			cut = followersOf(tc.nodes, leader)[0]
		}
		majority := othersThan(tc.nodes, cut)
		bg := startBgWriters(bgUsers, tc.nodes, 10_000*(round+1))
		time.Sleep(300 * time.Millisecond)
		t.Logf("round %d: cutting off %s %s", round, pick, cut.id)
		tc.isolate(cut)

		slot++
		refs = append(refs, expectNotAcknowledged(t, u, cut, slot))
		// The majority (re-)elects and takes writes.
		newLeader := tc.waitStable(clusterTimeout, majority, true)
		if newLeader == cut {
			t.Fatalf("the cut-off node %s is the majority's leader", cut.id)
		}
		for k := 0; k < 5; k++ {
			slot++
			w, _ := tc.createEventually(u.as(majority[k%2]), slot, clusterTimeout)
			acked = append(acked, w)
		}
		// Change an appointment the cut-off node has: a strong read there
		// would be stale.
		upd := u.as(newLeader).do("PATCH", "/api/appointments/"+first.ID, map[string]any{"title": fmt.Sprintf("renamed in round %d", round)})
		upd.expect(t, http.StatusOK)
		expectNoStrongRead(t, u, cut, first.ID)
		slot++
		refs = append(refs, expectNotAcknowledged(t, u, cut, slot))
		st, err := cut.status()
		if err != nil {
			t.Fatalf("status of cut-off %s: %v", cut.id, err)
		}
		t.Logf("cut-off %s: state %s, term %d, leader %q, position %d", cut.id, st.State, st.Term, st.LeaderID, st.Position)
		// The writes sent to the majority after the cut committed after
		// it: the cut-off node cannot have them.
		if newest := acked[len(acked)-1]; st.Position >= newest.Position {
			t.Fatalf("cut-off %s reached position %d, which the majority committed after the cut: the partition leaked", cut.id, st.Position)
		}
		if st.State == "Leader" {
			t.Errorf("cut-off node %s still claims to lead (term %d)", cut.id, st.Term)
		}

		tc.heal()
		tc.waitStable(clusterTimeout, tc.nodes, false)
		time.Sleep(300 * time.Millisecond)
		ws, n := bg.end()
		bgAcked, bgAttempts = append(bgAcked, ws...), bgAttempts+n
		perNode := map[string]int{}
		for _, w := range ws {
			perNode[w.Node]++
		}
		t.Logf("round %d: background writers: %d of %d writes acknowledged (by node: %v)", round, len(ws), n, perNode)
		last := max(maxPosition(acked), maxPosition(bgAcked))
		pos := positionOf(t, upd)
		tc.waitPosition(clusterTimeout, tc.nodes, max(last, pos))
		tc.expectVisibleEverywhere(u, tc.nodes, acked)
		// Strong reads work again on the healed node, and see the change.
		var a struct {
			Title string `json:"title"`
		}
		u.as(cut).do("GET", "/api/appointments/"+first.ID+"?consistency=strong", nil).expect(t, http.StatusOK).JSON(t, &a)
		if want := fmt.Sprintf("renamed in round %d", round); a.Title != want {
			t.Fatalf("strong read on healed %s: title %q, want %q", cut.id, a.Title, want)
		}
	}
	// Every write any node acknowledged, on every node; none that a node
	// said had not happened.
	expectAllVisible(tc, bgUsers, bgAcked)
	final := max(maxPosition(acked), maxPosition(bgAcked))
	expectRefusalsHeld(t, u, refs)
	tc.stopAndCompareEventStores(nil, final)
}

// An asymmetric partition: the leader still reaches the followers but
// hears nothing back. It must stop acknowledging writes, the followers
// elect a leader of their own and carry on, and after the heal all
// converge.
func TestClusterLeaderHearsNothing(t *testing.T) {
	tc, leader := startCluster(t, 3)
	u := tc.registerOn(leader, "deafleader")
	acked := []written{mustCreateSlot(t, u, 1)}
	fs := followersOf(tc.nodes, leader)
	tc.waitPosition(clusterTimeout, tc.nodes, acked[0].Position)

	tc.cutOneWay(fs, []*clusterNode{leader})
	w, took := tc.createEventually(u.as(fs[0]), 2, clusterTimeout)
	acked = append(acked, w)
	t.Logf("first write through follower %s after the leader went deaf: %v", fs[0].id, took)
	if l := tc.waitStable(clusterTimeout, fs, true); l == leader {
		t.Fatalf("the deaf leader still leads the followers")
	}
	for s := 3; s <= 12; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(fs[s%2]), s))
	}
	ref := expectNotAcknowledged(t, u, leader, 13)
	expectNoStrongRead(t, u, leader, acked[len(acked)-1].ID)

	tc.heal()
	tc.waitStable(clusterTimeout, tc.nodes, false)
	tc.expectVisibleEverywhere(u, tc.nodes, acked)
	expectRefusalsHeld(t, u, []refusal{ref})
	tc.stopAndCompareEventStores(nil, 0)
}

// The other asymmetric partition: a follower hears nothing from the leader
// (nor the other follower) but still reaches them. Its election attempts
// must not stop the majority, which keeps taking writes; writes through
// the deaf follower itself are never acknowledged wrongly; after the heal
// all converge.
func TestClusterFollowerHearsNothing(t *testing.T) {
	tc, leader := startCluster(t, 3)
	u := tc.registerOn(leader, "deaffollower")
	acked := []written{mustCreateSlot(t, u, 1)}
	deaf := followersOf(tc.nodes, leader)[0]
	rest := othersThan(tc.nodes, deaf)
	tc.waitPosition(clusterTimeout, tc.nodes, acked[0].Position)
	before, err := leader.status()
	if err != nil {
		t.Fatal(err)
	}

	tc.cutOneWay(rest, []*clusterNode{deaf})
	deadline := time.Now().Add(3 * time.Second)
	for s := 2; time.Now().Before(deadline); s++ {
		w, _ := tc.createEventually(u.as(rest[s%2]), s, clusterTimeout)
		acked = append(acked, w)
		time.Sleep(50 * time.Millisecond)
	}
	l := tc.waitStable(clusterTimeout, rest, true)
	after, err := l.status()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("while %s was deaf: leader %s term %d → leader %s term %d; %d writes acknowledged", deaf.id, leader.id, before.Term, l.id, after.Term, len(acked)-1)
	if l == deaf {
		t.Fatalf("the deaf follower leads")
	}
	if st, err := deaf.status(); err == nil && st.Position >= maxPosition(acked) {
		t.Fatalf("deaf %s reached position %d: the cut leaked", deaf.id, st.Position)
	}
	// It can forward a write to the leader (its requests arrive) but never
	// hears the answer: whatever it says, it must not be a plain refusal of
	// a write that committed.
	ref := expectNotAcknowledged(t, u, deaf, 500)
	tc.heal()
	tc.waitStable(clusterTimeout, tc.nodes, false)
	tc.expectVisibleEverywhere(u, tc.nodes, acked)
	expectRefusalsHeld(t, u, []refusal{ref})
	tc.stopAndCompareEventStores(nil, maxPosition(acked))
}

// A slow network (20 ms each way), then one whose delay exceeds the
// election timeout (400 ms each way, for 3 s, under writes through every
// node): nothing acknowledged is lost, and once it recovers, all converge.
// (A steady delay alone rarely triggers an election: heartbeats still
// arrive at their pace, only later.)
func TestClusterSlowNetwork(t *testing.T) {
	tc, leader := startCluster(t, 3)
	setLatency := func(d time.Duration) {
		for _, n := range tc.nodes {
			for _, p := range n.proxies() {
				p.SetLatency(d)
			}
		}
	}
	var users []*client
	for i, n := range tc.nodes {
		users = append(users, tc.registerOn(n, fmt.Sprintf("slownet%d", i+1)))
	}

	setLatency(20 * time.Millisecond)
	var acked []written
	for s := 1; s <= 9; s++ {
		acked = append(acked, mustCreateSlot(t, users[0].as(tc.nodes[s%3]), s))
	}
	for _, n := range followersOf(tc.nodes, leader) {
		users[0].as(n).do("GET", "/api/appointments/"+acked[0].ID+"?consistency=strong", nil).expect(t, http.StatusOK)
	}

	bg := startBgWriters(users, tc.nodes, 100)
	setLatency(400 * time.Millisecond)
	time.Sleep(3 * time.Second)
	setLatency(0)
	tc.waitStable(clusterTimeout, tc.nodes, false)
	time.Sleep(300 * time.Millisecond)
	bgAcked, attempts := bg.end()
	t.Logf("background writers: %d of %d writes acknowledged across the slow spell", len(bgAcked), attempts)
	expectAllVisible(tc, users, bgAcked)
	tc.expectVisibleEverywhere(users[0], tc.nodes, acked)
	tc.stopAndCompareEventStores(nil, max(maxPosition(acked), maxPosition(bgAcked)))
}
