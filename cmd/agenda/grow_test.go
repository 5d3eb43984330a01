package main

import (
	"net/http"
	"testing"
	"time"
)

// TestOneVoterGrowsWhileTheJoinerIsUnreachable: a one-voter cluster takes
// a second node that the leader cannot reach at first (in a Swarm stack a
// new task's name resolves only once it is healthy). An operations review
// found the joiner added as a voter at once: the leader, without a quorum
// of two, stepped down, and the joiner, which may not vote until a leader
// vouches for what it caught up with, could never help elect one. It now
// joins as a non-voter, the leader keeps leading and writing, and once the
// joiner is reachable and caught up it becomes a voter.
func TestOneVoterGrowsWhileTheJoinerIsUnreachable(t *testing.T) {
	tc := newTestCluster(t, 1)
	tc.start()
	n1 := tc.waitStable(clusterTimeout, nil, false)
	u := tc.registerOn(n1, "grower")
	acked := []written{mustCreateSlot(t, u.as(n1), 1)}

	n2 := tc.addNode()
	n2.raftProxy.Block(n1.id) // n1 cannot reach n2's Raft port
	n2.start()
	time.Sleep(4 * time.Second) // n2 asks to join; leases run out meanwhile
	c := u.as(n1)
	c.http = &http.Client{Timeout: 5 * time.Second}
	for s := 2; s <= 6; s++ {
		_, w, err := tryCreateSlot(c, s)
		if w == nil {
			st, _ := n1.status()
			t.Fatalf("write %d on %s while %s is unreachable failed (%v); %s is %s", s, n1.id, n2.id, err, n1.id, st.State)
		}
		acked = append(acked, *w)
	}

	tc.heal()
	tc.waitStable(clusterTimeout, []*clusterNode{n1, n2}, false)
	tc.eventually(clusterTimeout, "n2 a voter", func() string {
		st, err := n1.status()
		if err != nil {
			return err.Error()
		}
		for _, m := range st.Nodes {
			if m.ID == n2.id && m.Suffrage != "Voter" {
				return n2.id + " is " + m.Suffrage
			}
		}
		return ""
	})
	acked = append(acked, mustCreateSlot(t, u.as(n2), 7))
	tc.expectVisibleEverywhere(u, []*clusterNode{n1, n2}, acked)
}
