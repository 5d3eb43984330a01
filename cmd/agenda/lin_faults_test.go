package main

// The fault injector of the linearizability harness: a seeded random
// schedule of real faults — SIGKILL and restart, SIGSTOP/SIGCONT,
// partitions (a follower, the leader, one-way), a disk lost while the
// leader is cut off, the leader's own disk lost, the disks of a minority
// lost at once, and two faults at once —
// applied to a testCluster while clients run.

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// linFault names a kind of fault.
type linFault string

const (
	faultKillLeader      linFault = "kill-leader"
	faultKillNode        linFault = "kill-node"
	faultStopNode        linFault = "sigstop"
	faultIsolateLeader   linFault = "isolate-leader"
	faultIsolateFollower linFault = "isolate-follower"
	faultOneWay          linFault = "one-way"
	faultDiskLoss        linFault = "disk-loss+partition"
	faultWipeLeader      linFault = "wipe-leader"
	faultWipeMinority    linFault = "wipe-minority"
	faultOverlap         linFault = "overlap"
)

// allLinFaults is every kind, for the soak.
var allLinFaults = []linFault{faultKillLeader, faultKillNode, faultStopNode, faultIsolateLeader,
	faultIsolateFollower, faultOneWay, faultDiskLoss, faultWipeLeader, faultWipeMinority, faultOverlap}

// parseLinFaults reads a comma-separated list of kinds.
func parseLinFaults(s string) ([]linFault, error) {
	var out []linFault
	for _, f := range strings.Split(s, ",") {
		k := linFault(strings.TrimSpace(f))
		if !slices.Contains(allLinFaults, k) {
			return nil, fmt.Errorf("unknown fault %q (known: %v)", k, allLinFaults)
		}
		out = append(out, k)
	}
	return out, nil
}

// parseHold reads a fault's length as "min-max" (two durations, min at most
// max, both positive).
func parseHold(s string) ([2]time.Duration, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return [2]time.Duration{}, fmt.Errorf("want min-max, e.g. 10s-30s")
	}
	var r [2]time.Duration
	for i, v := range []string{lo, hi} {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return r, err
		}
		if d <= 0 {
			return r, fmt.Errorf("%v is not a length", d)
		}
		r[i] = d
	}
	if r[0] > r[1] {
		return r, fmt.Errorf("%v is more than %v", r[0], r[1])
	}
	return r, nil
}

// nemesis injects faults. It runs on the test goroutine: it may fail the
// test.
type nemesis struct {
	tc    *testCluster
	rng   *rand.Rand
	kinds []linFault
	// calm and hold bound the pause between faults and a fault's length.
	calm, hold [2]time.Duration
	injected   map[linFault]int
	log        []string
	start      time.Time
	stopped    map[*clusterNode]bool // SIGSTOPped now
}

// nemesisCalm and nemesisHold bound, unless a run says otherwise, the pause
// between faults and a fault's length.
var (
	nemesisCalm = [2]time.Duration{time.Second, 3 * time.Second}
	nemesisHold = [2]time.Duration{2 * time.Second, 5 * time.Second}
)

// newNemesis returns a nemesis whose faults last within hold (zero:
// nemesisHold).
func newNemesis(tc *testCluster, seed int64, kinds []linFault, hold [2]time.Duration) *nemesis {
	if hold == ([2]time.Duration{}) {
		hold = nemesisHold
	}
	return &nemesis{tc: tc, rng: rand.New(rand.NewSource(seed)), kinds: kinds, calm: nemesisCalm, hold: hold,
		injected: map[linFault]int{}, start: time.Now(), stopped: map[*clusterNode]bool{}}
}

func (nm *nemesis) between(r [2]time.Duration) time.Duration {
	return r[0] + time.Duration(nm.rng.Int63n(int64(r[1]-r[0])+1))
}

func (nm *nemesis) note(format string, args ...any) {
	line := fmt.Sprintf("%7.2fs ", time.Since(nm.start).Seconds()) + fmt.Sprintf(format, args...)
	nm.log = append(nm.log, line)
	nm.tc.t.Log("nemesis: " + line)
}

// total is the number of faults injected.
func (nm *nemesis) total() int {
	n := 0
	for _, c := range nm.injected {
		n += c
	}
	return n
}

// run injects faults until the deadline, then ends the last one.
func (nm *nemesis) run(until time.Time) {
	for time.Now().Add(nm.calm[1] + nm.hold[1]).Before(until) {
		time.Sleep(nm.between(nm.calm))
		nm.tc.checkAlive()
		kind := nm.kinds[nm.rng.Intn(len(nm.kinds))]
		nm.inject(kind)
		nm.injected[kind]++
		// Let the cluster find a leader again before the next fault, so that
		// faults do not pile up into a permanent outage.
		nm.awaitLeader(60 * time.Second)
	}
}

// inject applies one fault and ends it.
func (nm *nemesis) inject(kind linFault) {
	tc := nm.tc
	if kind == faultDiskLoss || kind == faultWipeLeader || kind == faultWipeMinority {
		nm.awaitDisksWhole(60 * time.Second)
	}
	leader := nm.leader()
	if leader == nil {
		leader = tc.nodes[nm.rng.Intn(len(tc.nodes))]
	}
	followers := othersThan(tc.nodes, leader)
	nm.rng.Shuffle(len(followers), func(i, j int) { followers[i], followers[j] = followers[j], followers[i] })
	hold := nm.between(nm.hold)
	switch kind {
	case faultKillLeader, faultKillNode:
		victim := leader
		if kind == faultKillNode {
			victim = tc.nodes[nm.rng.Intn(len(tc.nodes))]
		}
		nm.note("SIGKILL %s (leader %s) for %v", victim.id, leader.id, hold)
		victim.kill()
		time.Sleep(hold)
		restart(victim)
	case faultStopNode:
		victim := leader
		if nm.rng.Intn(2) == 0 {
			victim = tc.nodes[nm.rng.Intn(len(tc.nodes))]
		}
		nm.note("SIGSTOP %s (leader %s) for %v", victim.id, leader.id, hold)
		nm.pause(victim)
		time.Sleep(hold)
		nm.resume(victim)
	case faultIsolateLeader:
		nm.note("isolate leader %s for %v", leader.id, hold)
		tc.isolate(leader)
		time.Sleep(hold)
		tc.heal()
	case faultIsolateFollower:
		// A minority: one follower, or as many as the quorum can spare.
		k := 1 + nm.rng.Intn(max(1, (len(tc.nodes)-1)/2))
		cut := followers[:k]
		nm.note("isolate followers %s for %v", ids(cut), hold)
		tc.partition(cut, othersThanAll(tc.nodes, cut...))
		time.Sleep(hold)
		tc.heal()
	case faultOneWay:
		if nm.rng.Intn(2) == 0 {
			nm.note("leader %s hears nothing from the others for %v", leader.id, hold)
			tc.cutOneWay(followers, []*clusterNode{leader})
		} else {
			nm.note("follower %s hears nothing from the others for %v", followers[0].id, hold)
			tc.cutOneWay(othersThan(tc.nodes, followers[0]), []*clusterNode{followers[0]})
		}
		time.Sleep(hold)
		tc.heal()
	case faultDiskLoss:
		nm.diskLoss(leader, followers, hold)
	case faultWipeLeader:
		// Every write it acknowledged is on a follower too, which the
		// others elect: the leader's disk holds nothing only it has.
		nm.note("SIGKILL leader %s, delete its data dir; restart it empty after %v", leader.id, hold)
		nm.wipe(leader)
		time.Sleep(hold)
		restart(leader)
	case faultWipeMinority:
		// As many disks lost at once as the cluster can spare (two of
		// five), the leader's among them half the time. A write
		// acknowledged by a bare majority may then be on one intact
		// node only: it must win the election, which it can only if the
		// wiped nodes do not vote until they have caught up (an empty
		// node voting as its old self would let a node without it win).
		victims := followers[:(len(tc.nodes)-1)/2]
		if nm.rng.Intn(2) == 0 {
			victims = append([]*clusterNode{leader}, victims[:len(victims)-1]...)
		}
		nm.note("SIGKILL %s (leader %s), delete their data dirs; restart them empty after %v", ids(victims), leader.id, hold)
		for _, v := range victims {
			v.kill()
		}
		for _, v := range victims {
			nm.wipe(v)
		}
		time.Sleep(hold)
		for _, v := range victims {
			restart(v)
		}
	case faultOverlap:
		// A follower cut off, and while it is, the leader killed or
		// paused; each ends at its own time. On three nodes nothing
		// commits until one is over; on five the other three go on.
		cut := followers[0]
		how := "SIGKILL"
		if nm.rng.Intn(2) == 0 {
			how = "SIGSTOP"
		}
		nm.note("overlap: isolate follower %s, then %s the leader %s for %v", cut.id, how, leader.id, hold)
		tc.partition([]*clusterNode{cut}, othersThan(tc.nodes, cut))
		time.Sleep(nm.between([2]time.Duration{0, time.Second}))
		if how == "SIGKILL" {
			leader.kill()
		} else {
			nm.pause(leader)
		}
		time.Sleep(hold)
		if nm.rng.Intn(2) == 0 {
			tc.heal() // the follower comes back first
			time.Sleep(nm.between([2]time.Duration{0, time.Second}))
		}
		if how == "SIGKILL" {
			restart(leader)
		} else {
			nm.resume(leader)
		}
		tc.heal()
	}
}

// diskLoss is finding 1 of issue 8, generalised to n nodes: a minority of
// followers (stale) is cut off while writes commit on the rest; then one
// follower of the rest loses its disk and restarts empty, with the same
// NODE_ID and addresses, while the leader's side is cut off from the stale
// nodes and the wiped one — which together are a majority. An empty node
// that voted as its old self would elect a stale leader and lose what the
// quorum had acknowledged.
func (nm *nemesis) diskLoss(leader *clusterNode, followers []*clusterNode, hold time.Duration) {
	tc := nm.tc
	m := (len(tc.nodes) - 1) / 2
	stale, rest := followers[:m], append([]*clusterNode{leader}, followers[m:]...)
	wiped := rest[len(rest)-1]
	nm.note("disk loss: cut off %s while %s take writes", ids(stale), ids(rest))
	tc.partition(stale, rest)
	time.Sleep(nm.between([2]time.Duration{2 * time.Second, 3 * time.Second}))
	nm.note("disk loss: SIGKILL %s, delete its data dir; cut off %s; restart %s empty for %v", wiped.id, ids(rest[:len(rest)-1]), wiped.id, hold)
	nm.wipe(wiped)
	tc.heal()
	minority := rest[:len(rest)-1]
	tc.partition(minority, othersThanAll(tc.nodes, minority...))
	restart(wiped)
	time.Sleep(hold)
	tc.heal()
}

// wipe kills n (if it still runs) and deletes its data dir: a lost disk.
func (nm *nemesis) wipe(n *clusterNode) {
	n.kill()
	if err := os.RemoveAll(n.dataDir); err != nil {
		nm.tc.t.Fatalf("wipe %s: %v", n.id, err)
	}
}

// pause sends SIGSTOP; resume SIGCONT.
func (nm *nemesis) pause(n *clusterNode) {
	n.signal(syscall.SIGSTOP)
	nm.stopped[n] = true
}

func (nm *nemesis) resume(n *clusterNode) {
	n.signal(syscall.SIGCONT)
	delete(nm.stopped, n)
}

// end heals every fault: the network, stopped and killed nodes.
func (nm *nemesis) end() {
	nm.tc.heal()
	for n := range nm.stopped {
		nm.resume(n)
	}
	for _, n := range nm.tc.nodes {
		if !n.running() {
			restart(n)
		}
	}
}

// restart starts a node again on its old ports. On this shared machine
// another socket may hold one of them for a moment (an outgoing
// connection's ephemeral port, say): a node that exits at once because its
// address is in use is started again, up to 10 times. That is the test
// environment's doing, not the node's.
func restart(n *clusterNode) {
	for try := 0; ; try++ {
		n.start()
		exited := false
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if _, dead := n.died(); dead {
				exited = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !exited || try == 9 || !strings.Contains(tailFile(n.logPath, 3), "address already in use") {
			return
		}
		n.tc.t.Logf("%s: its address was in use; starting it again", n.id)
		n.mu.Lock()
		n.cmd = nil
		n.mu.Unlock()
		time.Sleep(500 * time.Millisecond)
	}
}

// leader returns the node most running nodes name as leader, if it says so
// itself; nil if none.
func (nm *nemesis) leader() *clusterNode {
	votes := map[string]int{}
	for _, n := range nm.tc.nodes {
		if !n.running() || nm.stopped[n] {
			continue
		}
		if s, err := n.status(); err == nil && s.LeaderID != "" {
			votes[s.LeaderID]++
		}
	}
	best, most := "", 0
	for id, c := range votes {
		if c > most || c == most && id < best {
			best, most = id, c
		}
	}
	for _, n := range nm.tc.nodes {
		if n.id == best && n.running() && !nm.stopped[n] {
			if s, err := n.status(); err == nil && s.State == "Leader" {
				return n
			}
		}
	}
	return nil
}

// awaitLeader waits until a majority names the same leader, which says so.
func (nm *nemesis) awaitLeader(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		nm.tc.checkAlive()
		if nm.leader() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	nm.tc.t.Errorf("nemesis: no leader %v after the last fault", d)
}

// awaitDisksWhole waits until every node is ready (/readyz), which a node
// that lost its disk is once it has caught up (and may vote again). A fault
// that destroys a disk waits for it: a second disk lost before the first
// node has caught up is a majority of the disks lost at once, which no
// Raft cluster survives (README: restore from a backup). The soak did that
// once, two leader wipes 5.5 s apart, and the cluster rightly elected no
// one from the single node left with the history.
func (nm *nemesis) awaitDisksWhole(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		nm.tc.checkAlive()
		ready := 0
		for _, n := range nm.tc.nodes {
			if n.ready() {
				ready++
			}
		}
		if ready == len(nm.tc.nodes) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	nm.tc.t.Errorf("nemesis: a node not ready %v after the last fault", d)
}

// signal sends sig to the node's process, if it runs.
func (n *clusterNode) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		n.cmd.Process.Signal(sig)
	}
}

// ids lists the nodes' IDs.
func ids(nodes []*clusterNode) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.id)
	}
	return strings.Join(out, ",")
}

// othersThanAll returns group without any of ns.
func othersThanAll(group []*clusterNode, ns ...*clusterNode) []*clusterNode {
	var out []*clusterNode
	for _, m := range group {
		if !slices.Contains(ns, m) {
			out = append(out, m)
		}
	}
	return out
}
