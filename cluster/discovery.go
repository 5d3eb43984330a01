package cluster

import (
	"sort"
	"time"
)

// View is what a node knows when it decides how to become part of a
// cluster: the input of Decide.
type View struct {
	Self Member
	// Member reports whether the local Raft configuration lists this node
	// at its current Raft address: then there is nothing to do.
	Member bool
	// Expect is BOOTSTRAP_EXPECT: 0 means this node never forms a cluster
	// with others, it only joins one.
	Expect int
	// Peers are the other nodes heard from directly and recently, with
	// their own view (state, leader).
	Peers []Member
	// LeaderID is the leader the local Raft knows, if any.
	LeaderID string
	// Unheard counts the nodes discovery names (seeds, DNS records) that
	// have not answered lately. Any of them may hold a cluster's state,
	// out of reach for now (a partition, an overlay network not up yet):
	// a bootstrap's voters must outnumber them.
	Unheard int
	// Leaderless is how long the local Raft has known no leader.
	Leaderless time.Duration
}

// StaleMemberAfter is how long a node that believes it is a member may go
// without a leader of its own while its peers report one, before it asks to
// join again: its configuration may be stale (it was removed while it was
// down, so it never saw the change). The join is harmless if it was not.
const StaleMemberAfter = 2 * time.Second

// Action kinds.
const (
	Wait      = "wait"
	Join      = "join"
	Bootstrap = "bootstrap"
)

// Action is what Decide says to do.
type Action struct {
	Kind string
	// Servers are the voters to bootstrap with (Bootstrap).
	Servers []Member
	// LeaderID is the leader to ask (Join); the request may go through any
	// node, which forwards it.
	LeaderID string
}

// Decide is the discovery rule, a pure function of what the node knows:
//
//   - a node in the configuration at its own address has nothing to do
//     (unless it has had no leader for StaleMemberAfter while its peers
//     report one: then it asks to join, as below);
//   - a node that knows a leader (its own Raft's, or one a peer reports)
//     asks to join: that covers a new node, a node restarting with a new
//     address, and a node that was removed and comes back;
//   - a node with Raft state waits: its cluster is electing a leader;
//   - otherwise, with BOOTSTRAP_EXPECT = n, once n nodes (itself included)
//     are known and none of them has state, the one with the lowest ID
//     bootstraps the lowest n as voters — but only once each of them
//     endorses it (Member.Vote, see NextVote); the others wait for its
//     leader to reach them. A vote is sticky, so two nodes whose views
//     differ for a moment cannot both collect the votes of a shared member:
//     one node bootstraps, and there is one initial configuration;
//   - and only while those n voters outnumber the nodes discovery names
//     that have not answered (View.Unheard): any of those may hold an
//     existing cluster's state. Above all a node expecting to found a
//     cluster alone (BOOTSTRAP_EXPECT = 1) does so only if every node
//     discovery names answered, none with state. A review found one that
//     had lost its disk, in a stack left at BOOTSTRAP_EXPECT = 1 with a
//     DNS name, founding a cluster of its own after one gossip round that
//     reached nobody, and serving an empty history.
func Decide(v View) Action {
	var peerLeader string
	for _, p := range v.Peers {
		if p.LeaderID != "" {
			peerLeader = p.LeaderID
			break
		}
	}
	switch {
	case v.Member && (v.LeaderID != "" || peerLeader == "" || v.Leaderless < StaleMemberAfter):
		return Action{Kind: Wait}
	case v.LeaderID != "":
		return Action{Kind: Join, LeaderID: v.LeaderID}
	case peerLeader != "":
		return Action{Kind: Join, LeaderID: peerLeader}
	}
	if v.Self.HasState || v.Expect <= 0 {
		return Action{Kind: Wait}
	}
	candidates := []Member{v.Self}
	for _, p := range v.Peers {
		if p.HasState {
			return Action{Kind: Wait}
		}
		if p.ID != v.Self.ID {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) < v.Expect || v.Expect <= v.Unheard {
		return Action{Kind: Wait}
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].ID < candidates[j].ID })
	chosen := candidates[:v.Expect]
	if chosen[0].ID != v.Self.ID || v.Self.Vote != v.Self.ID {
		return Action{Kind: Wait}
	}
	for _, p := range chosen[1:] {
		if p.Vote != v.Self.ID {
			return Action{Kind: Wait}
		}
	}
	return Action{Kind: Bootstrap, Servers: chosen}
}

// VoteTTL is how long a bootstrap vote stands before it may change: long
// enough that the node voted for can collect every vote and bootstrap,
// short enough that views which disagreed at first converge.
const VoteTTL = 10 * time.Second

// NextVote returns the node this one endorses to bootstrap, and since when.
// With no vote (or one older than VoteTTL) it votes for the lowest ID of
// the stateless nodes it knows, once it knows expect of them; otherwise the
// vote stands.
func NextVote(v View, current string, since, now time.Time) (string, time.Time) {
	if current != "" && now.Sub(since) < VoteTTL {
		return current, since
	}
	if v.Expect <= 0 || v.Self.HasState || v.Expect <= v.Unheard {
		return "", now
	}
	lowest, n := v.Self.ID, 1
	for _, p := range v.Peers {
		if p.HasState {
			return "", now
		}
		if p.ID != v.Self.ID {
			n++
			lowest = min(lowest, p.ID)
		}
	}
	if n < v.Expect {
		return "", now
	}
	if lowest == current {
		return current, since
	}
	return lowest, now
}

// RemovalFloor is the fewest voters the dead-node reaper leaves: the
// configured BOOTSTRAP_EXPECT, and never fewer than three (a cluster that
// size loses nothing by keeping a dead voter until an operator removes it
// or it comes back).
func RemovalFloor(expect int) int {
	return max(expect, 3)
}

// Reapable returns the voter to remove, if any: one unreachable for longer
// than the timeout, never the leader itself, only while the voters left stay
// at or above floor and the reachable ones remain a majority of them.
func Reapable(self string, voters []string, unreachableFor map[string]int64, timeout int64, floor int) string {
	if len(voters)-1 < floor {
		return ""
	}
	var dead []string
	for _, id := range voters {
		if d, ok := unreachableFor[id]; ok && id != self && d > timeout {
			dead = append(dead, id)
		}
	}
	if len(dead) == 0 {
		return ""
	}
	sort.Strings(dead)
	unreachable := 0
	for _, id := range voters {
		if _, ok := unreachableFor[id]; ok && id != self {
			unreachable++
		}
	}
	left := len(voters) - 1
	if reachable := left - (unreachable - 1); reachable <= left/2 {
		return ""
	}
	return dead[0]
}
