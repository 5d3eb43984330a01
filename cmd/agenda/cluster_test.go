package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/consensus"
)

// Multi-process cluster scenarios; the harness (and how partitions are made)
// is described in cluster_harness_test.go. Every scenario ends by stopping
// the nodes and comparing their event stores byte for byte.

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

// (e) A node with the wrong CLUSTER_HMAC_SECRET can neither join nor vote;
// the cluster carries on.
func TestClusterWrongSecretCannotJoin(t *testing.T) {
	tc, leader := startCluster(t, 3)
	u := tc.registerOn(leader, "wrongsecret")
	intruder := tc.addNode()
	intruder.env["CLUSTER_HMAC_SECRET"] = "not-the-cluster-secret-0123456789abcdef"
	intruder.start()

	members := tc.nodes[:3]
	var acked []written
	deadline := time.Now().Add(6 * time.Second)
	for s := 1; time.Now().Before(deadline); s++ {
		// Writes keep working meanwhile, through every member.
		acked = append(acked, mustCreateSlot(t, u.as(members[s%3]), s))
		for _, n := range members {
			st, err := n.status()
			if err != nil {
				t.Fatalf("status of %s: %v", n.id, err)
			}
			for _, m := range st.Nodes {
				if m.ID == intruder.id && strings.EqualFold(m.Suffrage, "voter") {
					t.Fatalf("%s lists the intruder %s as a voter: %+v", n.id, intruder.id, st.Nodes)
				}
			}
			if st.LeaderID == intruder.id {
				t.Fatalf("%s follows the intruder", n.id)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v := tc.waitStable(clusterTimeout, members, false); v == nil {
		t.Fatal("no leader")
	}
	if intruder.ready() {
		t.Errorf("the intruder says it is ready")
	}
	if st, err := intruder.status(); err == nil && slices.Contains(st.voters(), "n1") {
		t.Errorf("the intruder believes it shares a configuration with n1: %+v", st)
	}
	intruder.kill()
	// The members audited the intruder's refused gossip and Raft dials,
	// throttled: it tried many times a second, and every node here
	// connects from 127.0.0.1, so each member writes a line or two.
	for _, n := range members {
		if c := n.logCount("action=cluster.auth_refused"); c == 0 || c > 3 {
			t.Errorf("%s logged %d refusals of the intruder, want 1 to 3 (audited, throttled per host)", n.id, c)
		}
	}

	// Even knowing a member's Raft address, a wrong secret gets no Raft
	// connection: the handshake fails before any vote could be asked.
	layer, err := consensus.NewStreamLayer(consensus.StreamConfig{
		BindAddr: "127.0.0.1:0", Secret: []byte(intruder.env["CLUSTER_HMAC_SECRET"]), NodeID: intruder.id,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer layer.Close()
	leader = tc.waitStable(clusterTimeout, members, false)
	for _, addr := range []string{leader.raftAddr, leader.env["RAFT_ADVERTISE_ADDR"]} {
		if conn, err := layer.Dial(raft.ServerAddress(addr), 2*time.Second); err == nil {
			conn.Close()
			t.Fatalf("a Raft connection to %s with the wrong secret passed the handshake", addr)
		} else if !errors.Is(err, consensus.ErrHandshake) {
			t.Fatalf("Raft dial to %s with the wrong secret: %v, want ErrHandshake", addr, err)
		}
	}

	// A member restarted with the wrong secret is cut off: it neither
	// votes nor receives the log, and the others carry on without it.
	victim := followersOf(members, leader)[0]
	victim.stop()
	goodSecret := victim.env["CLUSTER_HMAC_SECRET"]
	victim.env["CLUSTER_HMAC_SECRET"] = intruder.env["CLUSTER_HMAC_SECRET"]
	victim.start()
	rest := othersThan(members, victim)
	deadline = time.Now().Add(4 * time.Second)
	for s := 1000; time.Now().Before(deadline); s++ {
		acked = append(acked, mustCreateSlot(t, u.as(rest[s%2]), s))
		time.Sleep(100 * time.Millisecond)
	}
	if l := tc.waitStable(clusterTimeout, rest, true); l == victim {
		t.Fatalf("the member with the wrong secret leads")
	}
	if st, err := victim.status(); err != nil {
		t.Fatalf("status of %s: %v", victim.id, err)
	} else if last := maxPosition(acked); st.Position >= last {
		t.Fatalf("%s, with the wrong secret, reached position %d (last write at %d)", victim.id, st.Position, last)
	} else {
		t.Logf("%s with the wrong secret: state %s, term %d, leader %q, position %d (cluster at %d)", victim.id, st.State, st.Term, st.LeaderID, st.Position, last)
	}
	if victim.ready() {
		t.Errorf("%s, with the wrong secret, says it is ready", victim.id)
	}
	// With the right secret again, it catches up.
	victim.stop()
	victim.env["CLUSTER_HMAC_SECRET"] = goodSecret
	victim.start()
	tc.waitStable(clusterTimeout, members, false)
	tc.expectVisibleEverywhere(u, []*clusterNode{victim}, acked)
	tc.stopAndCompareEventStores(members, maxPosition(acked))
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

// (g) A node joins a running cluster whose log was compacted behind a
// snapshot: it catches up from the snapshot and its event store ends
// identical.
func TestClusterJoinCatchesUpFromSnapshot(t *testing.T) {
	tc := newTestCluster(t, 3)
	for _, n := range tc.nodes {
		n.env["SNAPSHOT_THRESHOLD"] = "32"
		n.env["SNAPSHOT_INTERVAL"] = "100ms"
		n.env["TRAILING_LOGS"] = "8"
	}
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	u := tc.registerOn(leader, "snapjoin")
	var acked []written
	for s := 1; s <= 120; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	// Wait for the leader to have snapshotted past most of the log.
	tc.eventually(clusterTimeout, "a snapshot on the leader", func() string {
		if snaps := snapshotDirs(leader); len(snaps) == 0 {
			return "none yet"
		}
		return ""
	})

	joiner := tc.addNode()
	joiner.start()
	tc.waitStable(clusterTimeout, tc.nodes, false)
	last := maxPosition(acked)
	tc.waitPosition(clusterTimeout, []*clusterNode{joiner}, last)
	tc.expectVisibleEverywhere(u, []*clusterNode{joiner}, acked)
	if snaps := snapshotDirs(joiner); len(snaps) == 0 {
		t.Errorf("the joiner has no snapshot: it did not catch up from one")
	} else {
		t.Logf("joiner's snapshots: %v", snaps)
	}
	// It takes writes like any member.
	acked = append(acked, mustCreateSlot(t, u.as(joiner), 500))
	tc.stopAndCompareEventStores(nil, maxPosition(acked))
}

// A follower cut off while the others compact their log catches up, once
// healed, from a snapshot laid over the events it already has (the store
// must be a prefix of the snapshot), and ends identical.
func TestClusterPartitionedFollowerCatchesUpFromSnapshot(t *testing.T) {
	tc := newTestCluster(t, 3)
	for _, n := range tc.nodes {
		n.env["SNAPSHOT_THRESHOLD"] = "32"
		n.env["SNAPSHOT_INTERVAL"] = "100ms"
		n.env["TRAILING_LOGS"] = "8"
	}
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	// The follower to cut off keeps the default snapshot threshold, so
	// that a snapshot in its data dir can only have come from the leader.
	cut := followersOf(tc.nodes, leader)[0]
	cut.stop()
	for _, k := range []string{"SNAPSHOT_THRESHOLD", "SNAPSHOT_INTERVAL", "TRAILING_LOGS"} {
		delete(cut.env, k)
	}
	cut.start()
	leader = tc.waitStable(clusterTimeout, nil, false)
	if leader == cut {
		// Cutting off a leader makes the same point: the majority goes on
		// and compacts without it.
		t.Logf("the restarted %s leads now; cutting it off all the same", cut.id)
	}
	u := tc.registerOn(leader, "snapfollower")
	var acked []written
	for s := 1; s <= 20; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	tc.waitPosition(clusterTimeout, tc.nodes, maxPosition(acked))
	if snaps := snapshotDirs(cut); len(snaps) != 0 {
		t.Fatalf("%s already has snapshots %v before the partition", cut.id, snaps)
	}

	tc.isolate(cut)
	rest := othersThan(tc.nodes, cut)
	w, _ := tc.createEventually(u.as(rest[0]), 21, clusterTimeout)
	acked = append(acked, w)
	for s := 22; s <= 140; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(rest[s%2]), s))
	}
	for _, n := range rest {
		tc.eventually(clusterTimeout, "a snapshot on "+n.id, func() string {
			if len(snapshotDirs(n)) == 0 {
				return "none yet"
			}
			return ""
		})
	}

	tc.heal()
	tc.waitStable(clusterTimeout, tc.nodes, false)
	last := maxPosition(acked)
	tc.waitPosition(clusterTimeout, []*clusterNode{cut}, last)
	tc.expectVisibleEverywhere(u, []*clusterNode{cut}, acked)
	if snaps := snapshotDirs(cut); len(snaps) == 0 {
		t.Errorf("%s has no snapshot: it did not catch up from one", cut.id)
	} else {
		t.Logf("%s caught up through snapshot %v", cut.id, snaps)
	}
	tc.stopAndCompareEventStores(nil, last)
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

// snapshotDirs lists the Raft snapshots in the node's data dir.
func snapshotDirs(n *clusterNode) []string {
	var out []string
	for _, pattern := range []string{"raft/snapshots/*", "raft/*/snapshots/*"} {
		m, _ := filepath.Glob(filepath.Join(n.dataDir, pattern))
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				out = append(out, filepath.Base(d))
			}
		}
	}
	return out
}

// bodyOf returns r's body, "" for no response.
func responseBody(r *response) string {
	if r == nil {
		return ""
	}
	return string(r.Body)
}
