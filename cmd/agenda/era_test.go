package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
)

// leftOutSays is what a node left out of a later era answers (its
// /readyz and every API request).
const leftOutSays = "left out of its cluster"

// expectLeftOut waits until n says it was left out, on /readyz and on an
// API request of u.
func expectLeftOut(tc *testCluster, n *clusterNode, u *client) {
	tc.t.Helper()
	tc.eventually(clusterTimeout, n.id+" says it was left out", func() string {
		resp, err := tc.httpClient(opsClient.Timeout).Get(n.url() + "/readyz")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), leftOutSays) {
			return fmt.Sprintf("/readyz %d %s", resp.StatusCode, b)
		}
		return ""
	})
	r, err := u.as(n).send("GET", "/api/me", nil)
	if err != nil || r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), leftOutSays) {
		tc.t.Errorf("GET /api/me on %s, left out: %v %d %s; want 503 saying why", n.id, err, r.Status, r.Body)
	}
	if st, err := n.status(); err != nil || !strings.Contains(st.LeftOut, leftOutSays) {
		tc.t.Errorf("/cluster/status on %s, left out: left_out %q, %v; want it saying so", n.id, st.LeftOut, err)
	}
}

// recoverWith runs `cluster recover` on n's data dir with voters.
func recoverWith(t *testing.T, n *clusterNode, voters ...*clusterNode) {
	t.Helper()
	if err := run(recoverArgs(n, voters...)); err != nil {
		t.Fatalf("recover %s: %v", n.id, err)
	}
}

// recoverArgs is the command line of `cluster recover` on n with voters.
func recoverArgs(n *clusterNode, voters ...*clusterNode) []string {
	args := []string{"cluster", "recover", "-data-dir", n.dataDir, "-node-id", n.id}
	for _, v := range voters {
		args = append(args, "-voter", v.id+"="+v.raftAddr)
	}
	return args
}

// recoveredTogether starts three nodes, registers a user, then stops them
// all and recovers each with all three (a first disaster, none lost).
func recoveredTogether(t *testing.T, name string) (*testCluster, *client) {
	t.Helper()
	tc := newDirectCluster(t, 3)
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	u := tc.registerOn(tc.nodes[0], name)
	knownEverywhere(tc, u)
	for _, n := range tc.nodes {
		n.kill()
	}
	for _, n := range tc.nodes {
		recoverWith(t, n, tc.nodes...)
	}
	return tc, u
}

// waitLedAmong waits until every node of ns is ready under a leader among
// them (a majority of a larger configuration).
func waitLedAmong(tc *testCluster, ns ...*clusterNode) {
	tc.t.Helper()
	tc.eventually(clusterTimeout, "a leader among the running nodes", func() string {
		for _, n := range ns {
			st, err := n.status()
			if err != nil {
				return err.Error()
			}
			if !slices.ContainsFunc(ns, func(m *clusterNode) bool { return m.id == st.LeaderID }) || !n.ready() {
				return fmt.Sprintf("%s: leader %q, ready %v", n.id, st.LeaderID, n.ready())
			}
		}
		return ""
	})
}

// expectSameEra checks that a and b show the same era in /cluster/status,
// not the zero one.
func expectSameEra(t *testing.T, a, b *clusterNode) {
	t.Helper()
	sa, errA := a.status()
	sb, errB := b.status()
	if errA != nil || errB != nil || sa.Era == "" || sa.Era != sb.Era {
		t.Errorf("eras in /cluster/status: %s %q (%v), %s %q (%v); want the same, not empty", a.id, sa.Era, errA, b.id, sb.Era, errB)
	}
}

// expectLeadingAlone checks that n leads a configuration of itself alone.
func expectLeadingAlone(t *testing.T, n *clusterNode) {
	t.Helper()
	st, err := n.status()
	if err != nil || st.LeaderID != n.id || !slices.Equal(st.voters(), []string{n.id}) {
		t.Fatalf("%s's status: %+v, %v; want it leading itself alone", n.id, st, err)
	}
}

// TestClusterRecoverThenTheLeftOutComeBack: after `cluster recover` made
// the survivor the whole cluster and it took new writes, the two nodes it
// left out come back at once with their old data, as they do when their
// hosts return under an orchestrator. An operations review saw them elect a
// leader in the survivor's term, the survivor follow it, and its writes
// since the recover part from the others' history without a word. Now the
// recover starts a new era: the survivor refuses their Raft connections and
// keeps every write it acknowledged, and they learn from it that they were
// left out (not ready, saying why, every API request answered 503). One of
// them, its data dir moved aside, then joins as a new node.
func TestClusterRecoverThenTheLeftOutComeBack(t *testing.T) {
	tc := newDirectCluster(t, 3)
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	survivor, lost := tc.nodes[0], tc.nodes[1:]
	u := tc.registerOn(survivor, "survivor")
	knownEverywhere(tc, u)
	var acked []written
	for s := 1; s <= 3; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	tc.expectVisibleEverywhere(u, tc.nodes, acked)
	for _, n := range tc.nodes {
		n.kill()
	}
	if err := run([]string{"cluster", "recover", "-data-dir", survivor.dataDir, "-node-id", survivor.id,
		"-voter", survivor.id + "=" + survivor.raftAddr}); err != nil {
		t.Fatalf("recover: %v", err)
	}
	survivor.start()
	tc.waitStable(clusterTimeout, []*clusterNode{survivor}, false)
	after := tc.registerOn(survivor, "after")
	var since []written
	for s := 10; s <= 12; s++ {
		since = append(since, mustCreateSlot(t, after.as(survivor), s))
	}

	for _, n := range lost {
		n.start()
	}
	for _, n := range lost {
		expectLeftOut(tc, n, u)
	}
	// The survivor still leads its cluster of one, with every write it
	// acknowledged, before the recover and since, and takes new ones.
	expectLeadingAlone(t, survivor)
	tc.expectVisibleEverywhere(u, []*clusterNode{survivor}, acked)
	since = append(since, mustCreateSlot(t, after.as(survivor), 20))
	tc.expectVisibleEverywhere(after, []*clusterNode{survivor}, since)
	if !lost[0].logContains("raft.superseded") && !lost[1].logContains("raft.superseded") {
		t.Error("no left-out node logged that it was left out")
	}

	// As documented: its data dir moved aside, a left-out node joins the
	// recovered cluster as a new node and takes its era.
	back := lost[0]
	back.kill()
	if err := os.Rename(back.dataDir, back.dataDir+".old"); err != nil {
		t.Fatal(err)
	}
	back.env["DISCOVERY_SEEDS"] = survivor.env["ADVERTISE_ADDR"]
	back.start()
	tc.waitStable(clusterTimeout, []*clusterNode{survivor, back}, false)
	tc.expectVisibleEverywhere(after, []*clusterNode{survivor, back}, since)
	if b, err := os.ReadFile(filepath.Join(back.dataDir, "raft", "era")); err != nil || !strings.Contains(string(b), `"joined"`) {
		t.Errorf("the rejoined node's era file: %s, %v", b, err)
	}
	expectSameEra(t, survivor, back)
}

// TestRestoredNodeRefusesTheOldCluster: a backup is restored into one
// node's data dir while the other two keep their old data, against what
// deploy/README.md says. An operations review saw the old nodes elect a
// leader that the restored node followed, a registration sent to it
// committed in the old cluster's history. Now the restored node founds a
// cluster of a new era, which the old nodes' cannot reach: it leads its own
// cluster with the restored history and what it took since. (The old nodes
// go on as a cluster of their own, a majority of their old configuration:
// a restore starts an era unrelated to theirs, so that a restore drill
// beside a running cluster cannot stop it; the operator is to delete their
// data, as documented.)
func TestRestoredNodeRefusesTheOldCluster(t *testing.T) {
	tc := newDirectCluster(t, 3)
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	u := tc.registerOn(tc.nodes[0], "before")
	knownEverywhere(tc, u)
	var acked []written
	for s := 1; s <= 3; s++ {
		acked = append(acked, mustCreateSlot(t, u.as(tc.nodes[s%3]), s))
	}
	tc.expectVisibleEverywhere(u, tc.nodes, acked)
	restored := tc.nodes[0]
	backup := filepath.Join(t.TempDir(), "agenda.backup")
	if code, err := runCLI("backup", "--out", backup, "--data-dir", restored.dataDir, "--addr", restored.httpAddr,
		"--cluster-hmac-secret", testClusterSecret); code != 0 {
		t.Fatalf("backup: exit %d: %v", code, err)
	}
	for _, n := range tc.nodes {
		n.kill()
	}
	// Slot 1's data is replaced by the restore; slots 2 and 3 keep theirs.
	if err := os.RemoveAll(restored.dataDir); err != nil {
		t.Fatal(err)
	}
	if code, err := runCLI("restore", "--from", backup, "--data-dir", restored.dataDir); code != 0 {
		t.Fatalf("restore: exit %d: %v", code, err)
	}
	restored.env["DISCOVERY_SEEDS"] = "" // a restored node starts alone
	restored.env["BOOTSTRAP_EXPECT"] = "1"
	restored.start()
	tc.waitStable(clusterTimeout, []*clusterNode{restored}, false)
	after := tc.registerOn(restored, "after")
	since := []written{mustCreateSlot(t, after.as(restored), 10)}

	old := tc.nodes[1:]
	for _, n := range old {
		n.start()
	}
	tc.eventually(clusterTimeout, "the old nodes elect one of themselves", func() string {
		st, err := old[0].status()
		if err != nil {
			return err.Error()
		}
		if st.LeaderID != old[0].id && st.LeaderID != old[1].id {
			return fmt.Sprintf("leader %q", st.LeaderID)
		}
		return ""
	})
	// Long enough for their leader to reach the restored node many times
	// over (heartbeats every few hundred milliseconds).
	time.Sleep(3 * time.Second)
	expectLeadingAlone(t, restored)
	tc.expectVisibleEverywhere(u, []*clusterNode{restored}, acked)
	since = append(since, mustCreateSlot(t, after.as(restored), 11))
	tc.expectVisibleEverywhere(after, []*clusterNode{restored}, since)
	if !restored.logContains("another era") && !old[0].logContains("another era") && !old[1].logContains("another era") {
		t.Error("no log line says the eras differ")
	}
}

// TestClusterRecoveredTwice: two survivors of three are recovered together
// and take writes; later the cluster loses them again but one, recovered
// alone. A review saw the second recover, its membership unchanged since
// the first, start an era beside the first rather than after it, and the
// node it left out (of the first era) and the one left out the first time
// (of the zero era) elect each other and take writes without being told.
// Now both learn from the survivor that they were left out.
func TestClusterRecoveredTwice(t *testing.T) {
	tc := newDirectCluster(t, 3)
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	n1, n2, n3 := tc.nodes[0], tc.nodes[1], tc.nodes[2]
	u := tc.registerOn(n1, "twice")
	knownEverywhere(tc, u)
	acked := []written{mustCreateSlot(t, u.as(n2), 1)}
	tc.expectVisibleEverywhere(u, tc.nodes, acked)
	for _, n := range tc.nodes {
		n.kill()
	}
	recoverWith(t, n1, n1, n2)
	recoverWith(t, n2, n1, n2)
	n1.start()
	n2.start()
	tc.waitStable(clusterTimeout, []*clusterNode{n1, n2}, false)
	acked = append(acked, mustCreateSlot(t, u.as(n2), 2))
	tc.expectVisibleEverywhere(u, []*clusterNode{n1, n2}, acked)
	first, err := n1.status()
	if err != nil || first.Era == "" {
		t.Fatalf("n1's era after the first recover: %+v, %v", first, err)
	}

	n1.kill()
	n2.kill()
	recoverWith(t, n1, n1)
	n1.start()
	tc.waitStable(clusterTimeout, []*clusterNode{n1}, false)
	acked = append(acked, mustCreateSlot(t, u.as(n1), 3))
	second, err := n1.status()
	if err != nil || second.Era == "" || second.Era == first.Era {
		t.Fatalf("n1's era after the second recover: %q (%v), the first's %q", second.Era, err, first.Era)
	}
	// n3, of the zero era, left out by the first recover, meets only the
	// survivor; then n2, of the first era, left out by the second.
	n3.start()
	expectLeftOut(tc, n3, u)
	n2.start()
	expectLeftOut(tc, n2, u)
	expectLeadingAlone(t, n1)
	tc.expectVisibleEverywhere(u, []*clusterNode{n1}, append(acked, mustCreateSlot(t, u.as(n1), 4)))
}

// TestClusterRecoverAfterARecoverNeverStarted: all three nodes are
// recovered together, but only two start and take writes; then those two
// are lost, and the third, whose log has not moved since its recover, is
// recovered alone. A review saw that recover, taken for a corrected list,
// start an era beside the first, so that the two, back with their data,
// were refused but not told, and elected each other beside it. A recover
// now always follows the node's era (a correction is asked for with
// -correct): they learn they were left out.
func TestClusterRecoverAfterARecoverNeverStarted(t *testing.T) {
	tc, u := recoveredTogether(t, "never")
	n1, n2, n3 := tc.nodes[0], tc.nodes[1], tc.nodes[2]
	n1.start()
	n2.start()
	waitLedAmong(tc, n1, n2)
	mustCreateSlot(t, u.as(n1), 1) // acknowledged by the two, lost with them
	n1.kill()
	n2.kill()
	recoverWith(t, n3, n3)
	n3.start()
	tc.waitStable(clusterTimeout, []*clusterNode{n3}, false)
	acked := []written{mustCreateSlot(t, u.as(n3), 2)}
	n1.start()
	n2.start()
	expectLeftOut(tc, n1, u)
	expectLeftOut(tc, n2, u)
	expectLeadingAlone(t, n3)
	tc.expectVisibleEverywhere(u, []*clusterNode{n3}, append(acked, mustCreateSlot(t, u.as(n3), 3)))
}

// TestLeftOutSurvivorRecoveredAgain: a survivor whose log has not moved
// since an earlier recover is left out of the next one by mistake (its
// peer was recovered with both of them, it was not), and is told so. A
// review found the documented way out, recovering it with the same list,
// then gave it an era beside its peer's, and the two refused each other
// for good. It now takes its peer's era (the one that left it out), and
// they elect.
func TestLeftOutSurvivorRecoveredAgain(t *testing.T) {
	tc, u := recoveredTogether(t, "again")
	n1, n2, n3 := tc.nodes[0], tc.nodes[1], tc.nodes[2]
	n1.start()
	n3.start()
	waitLedAmong(tc, n1, n3)
	acked := []written{mustCreateSlot(t, u.as(n1), 1)}
	n1.kill()
	n3.kill() // lost for good; n2 never started since its recover
	recoverWith(t, n1, n1, n2)
	n1.start()
	n2.start() // not recovered with n1: it is told it was left out, and stays out across a restart
	expectLeftOut(tc, n2, u)
	n2.kill()
	n2.start()
	expectLeftOut(tc, n2, u)
	n2.kill()
	recoverWith(t, n2, n1, n2) // the documented way out
	n2.start()
	tc.waitStable(clusterTimeout, []*clusterNode{n1, n2}, false)
	tc.expectVisibleEverywhere(u, []*clusterNode{n1, n2}, append(acked, mustCreateSlot(t, u.as(n2), 2)))
	expectSameEra(t, n1, n2)
}

// TestSecondMajorityLossInTheDocumentedOrder: all three nodes are
// recovered together, but only two start; then one of those is lost too,
// and "Losing a majority" is followed again for the two left, one of which
// never started since the first recover. A review found the two then in
// eras that refused each other for good, when a re-run before a start was
// taken for a correction. Here the one that never started is even
// recovered with a wrong list first, corrected (-correct), then retried
// with the right one: the two take the same era and elect. -correct is
// refused on a node that has run since its last recover.
func TestSecondMajorityLossInTheDocumentedOrder(t *testing.T) {
	tc, u := recoveredTogether(t, "order")
	n1, n2, n3 := tc.nodes[0], tc.nodes[1], tc.nodes[2]
	n1.start()
	n3.start()
	waitLedAmong(tc, n1, n3)
	acked := []written{mustCreateSlot(t, u.as(n1), 1)}
	n1.kill()
	n3.kill() // lost for good; n2 never started since its recover
	if err := run(append(recoverArgs(n1, n1, n2), "-correct")); err == nil || !strings.Contains(err.Error(), "has run since") {
		t.Fatalf("recover -correct on a node that ran since its last recover: %v, want a refusal saying so", err)
	}
	recoverWith(t, n1, n1, n2)
	recoverWith(t, n2, n2) // a wrong list
	if err := run(append(recoverArgs(n2, n1, n2), "-correct")); err != nil {
		t.Fatalf("recover -correct: %v", err)
	}
	recoverWith(t, n2, n1, n2) // retried
	n1.start()
	n2.start()
	waitLedAmong(tc, n1, n2)
	tc.expectVisibleEverywhere(u, []*clusterNode{n1, n2}, append(acked, mustCreateSlot(t, u.as(n2), 2)))
	expectSameEra(t, n1, n2)
}

// TestSurvivorsRecoveredWithDifferentLogs: two of five nodes lag while a
// write is acknowledged by the three others; those three are lost, and the
// two laggards and one of the three (whose log holds the write) are each
// recovered with the three of them, against deploy/README.md's advice to
// recover one survivor. The laggards start first, elect, and take a write;
// the longer survivor starts later. An operations review saw it ready, in
// the same era, serving its own history: the write it held and not the one
// the cluster took since (a strong read of that one answered 404). Its
// store had applied entries the cluster did not keep, and the entries the
// cluster sent it in their place were skipped as applied before. Now every
// entry skipped that way is checked against the terms the store applied
// (eventstore's term trail): the node halts, saying why, and serves no
// read of the other history meanwhile; its data dir moved aside, it joins
// the cluster as a new node.
func TestSurvivorsRecoveredWithDifferentLogs(t *testing.T) {
	testSurvivorsRecoveredWithDifferentLogs(t, false)
}

// TestSurvivorsRecoveredWithDifferentLogsAfterASnapshot: the same, but the
// laggards snapshot often and compact their logs, so that the longer
// survivor is sent a snapshot. Its store, which holds the write the
// cluster did not keep, refused it (histories diverged), and raft offered
// it again every 10 s: the node ran, unready, and never said what to do.
// Now it halts saying so, as above.
func TestSurvivorsRecoveredWithDifferentLogsAfterASnapshot(t *testing.T) {
	testSurvivorsRecoveredWithDifferentLogs(t, true)
}

func testSurvivorsRecoveredWithDifferentLogs(t *testing.T, snapshotFirst bool) {
	tc := newDirectCluster(t, 5)
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	n1, n2, n3, n4, n5 := tc.nodes[0], tc.nodes[1], tc.nodes[2], tc.nodes[3], tc.nodes[4]
	u := tc.registerOn(n1, "laggards")
	knownEverywhere(tc, u)
	n3.kill()
	n4.kill()
	wa := mustCreateSlot(t, u.as(n1), 1) // on n1, n2 and n5: a majority of five
	n1.kill()
	n2.kill()
	n5.kill()

	// What `agenda cluster log-end` reads says which survivor to recover
	// alone: n2, whose log holds the write.
	ends := map[string]consensus.LogEnd{}
	for _, n := range []*clusterNode{n2, n3, n4} {
		if err := run([]string{"cluster", "log-end", "-data-dir", n.dataDir}); err != nil {
			t.Fatalf("log-end on %s: %v", n.id, err)
		}
		end, err := consensus.InspectLog(filepath.Join(n.dataDir, "raft"))
		if err != nil {
			t.Fatal(err)
		}
		ends[n.id] = end
	}
	if !ends["n2"].Beyond(ends["n3"]) || !ends["n2"].Beyond(ends["n4"]) || ends["n3"].Beyond(ends["n2"]) {
		t.Errorf("log ends: %+v; want n2's beyond the others'", ends)
	}

	recoverWith(t, n3, n2, n3, n4)
	recoverWith(t, n4, n2, n3, n4)
	recovered := latestSnapshotIndex(t, n3)
	if snapshotFirst {
		for _, n := range []*clusterNode{n3, n4} {
			n.snapshotOften(2, 0, "100ms")
		}
	}
	n3.start()
	n4.start()
	waitLedAmong(tc, n3, n4)
	if snapshotFirst {
		tc.eventually(clusterTimeout, "a snapshot on n3 past its recover's", func() string {
			if i := latestSnapshotIndex(t, n3); i <= recovered {
				return fmt.Sprintf("latest at %d, the recover's at %d", i, recovered)
			}
			return ""
		})
	}
	wb := mustCreateSlot(t, u.as(n3), 2)
	tc.expectVisibleEverywhere(u, []*clusterNode{n3, n4}, []written{wb})

	recoverWith(t, n2, n2, n3, n4)
	n2.start()
	expectHalted(t, n2, u, wb)

	// The cluster goes on; n2, its data dir moved aside, joins it empty and
	// holds its history, without the write the cluster never kept.
	if err := os.Rename(n2.dataDir, n2.dataDir+".old"); err != nil {
		t.Fatal(err)
	}
	n2.env["DISCOVERY_SEEDS"] = n3.env["ADVERTISE_ADDR"]
	n2.start()
	waitLedAmong(tc, n2, n3, n4)
	tc.expectVisibleEverywhere(u, []*clusterNode{n2, n3, n4}, []written{wb, mustCreateSlot(t, u.as(n4), 3)})
	expectNotKept(t, u, wa, n2, n3, n4)
}

// latestSnapshotIndex is the Raft index of n's newest snapshot on disk (0
// if none); the snapshot store names each <term>-<index>-<milliseconds>.
func latestSnapshotIndex(t *testing.T, n *clusterNode) uint64 {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(n.dataDir, "raft", "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var latest uint64
	for _, de := range des {
		var term, index, ms uint64
		if _, err := fmt.Sscanf(de.Name(), "%d-%d-%d", &term, &index, &ms); err == nil && !strings.HasSuffix(de.Name(), ".tmp") {
			latest = max(latest, index)
		}
	}
	return latest
}

// expectNotKept checks that w, a write the cluster did not keep, is not
// found on any of ns (a strong read).
func expectNotKept(t *testing.T, u *client, w written, ns ...*clusterNode) {
	t.Helper()
	for _, n := range ns {
		if r, err := u.as(n).send("GET", "/api/appointments/"+w.ID+"?consistency=strong", nil); err != nil || r.Status != http.StatusNotFound {
			t.Errorf("the write the cluster did not keep, on %s: %v %v; want 404", n.id, r, err)
		}
	}
}

// expectHalted waits until n, started with a store holding entries the
// cluster did not keep, halts saying what to do, and checks that it never
// answers a strong read of w, a write of the cluster's, with 404 meanwhile.
func expectHalted(t *testing.T, n *clusterNode, u *client, w written) {
	t.Helper()
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	deadline := time.After(clusterTimeout)
	c := u.as(n)
	c.http = &http.Client{Timeout: 2 * time.Second}
	served := 0
	for done := false; !done; {
		select {
		case <-exited:
			done = true
			continue
		case <-deadline:
			t.Fatalf("%s still runs %v after it started, holding a history the cluster did not keep (it answered a strong read of the cluster's write with 404 %d times)", n.id, clusterTimeout, served)
		case <-time.After(20 * time.Millisecond):
		}
		r, err := c.send("GET", "/api/appointments/"+w.ID+"?consistency=strong", nil)
		if err == nil && r.Status == http.StatusNotFound {
			if served == 0 {
				t.Errorf("%s answered a strong read of the cluster's write with 404: it serves another history", n.id)
			}
			served++
		}
	}
	n.mu.Lock()
	n.expectExit, n.cmd = true, nil
	n.mu.Unlock()
	if !n.logContains("move this data dir aside") {
		t.Errorf("%s halted without saying what to do; last lines of its log:\n%s", n.id, tailFile(n.logPath, 20))
	}
}

// TestSurvivorsRecoveredWithDifferentLogsOfOneTerm: the leader and one
// more node are lost first; the other three elect a leader in the next
// term and take a write; two of them are lost, then the third. The two
// first lost and the third are recovered together; the first two start,
// elect, and take a write. A fault review saw them elect in the very term
// the third's write was of, pre-vote keeping their term where it was, and
// the third, started later, ready and serving a mix for good: the same
// index and term named different entries on each side, so every check of
// the history passed. Now a recover raises the node's term above any of
// the era it recovered (termFloor): the third halts.
func TestSurvivorsRecoveredWithDifferentLogsOfOneTerm(t *testing.T) {
	tc := newDirectCluster(t, 5)
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	u := tc.registerOn(leader, "oneterm")
	knownEverywhere(tc, u)
	var others []*clusterNode
	for _, n := range tc.nodes {
		if n != leader {
			others = append(others, n)
		}
	}
	short, long, lost := []*clusterNode{leader, others[0]}, others[1], others[2:]
	for _, n := range short {
		n.kill()
	}
	waitLedAmong(tc, others[1:]...)
	wa := mustCreateSlot(t, u.as(long), 1) // on the three: a majority of five
	for _, n := range append(lost, long) {
		n.kill()
	}

	survivors := append(append([]*clusterNode{}, short...), long)
	for _, n := range survivors {
		recoverWith(t, n, survivors...)
	}
	for _, n := range short {
		n.start()
	}
	waitLedAmong(tc, short...)
	wb := mustCreateSlot(t, u.as(short[0]), 2)
	long.start()
	expectHalted(t, long, u, wb)
	expectNotKept(t, u, wa, short...)
	tc.expectVisibleEverywhere(u, short, []written{wb, mustCreateSlot(t, u.as(short[1]), 3)})
}
