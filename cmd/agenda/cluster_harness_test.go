package main

// Multi-process cluster harness.
//
// Every node is this test binary re-executed (see childEnv in main_test.go)
// running the real `serve` path, configured only through the environment a
// deployment would use: NODE_ID n1..nN, its own DATA_DIR, HTTP_ADDR and
// RAFT_ADDR on free 127.0.0.1 ports, BOOTSTRAP_EXPECT, DISCOVERY_SEEDS and
// shared CLUSTER_HMAC_SECRET and JWT_SECRET.
//
// How partitions work. Each node has two faultproxy.Proxy in front of it,
// one for its Raft port and one for its HTTP port, and advertises the
// proxies (RAFT_ADVERTISE_ADDR, ADVERTISE_ADDR; its peers' DISCOVERY_SEEDS
// name its HTTP proxy), so that every byte one node sends another — Raft,
// join, forwarded writes, strong reads — crosses the receiver's proxy. The
// test itself talks to each node's HTTP port directly, so it can still
// reach a node it has cut off.
//
// Cutting node k off needs more than cutting k's own proxies (its inbound
// traffic): its outbound connections cross its peers' proxies, which must
// drop them while still serving everyone else. Raft addresses are global,
// so a peer cannot be given a private view with per-pair proxies, and
// every node dials from 127.0.0.1 (the stream layer does not bind a source
// address; 127.0.0.2 can be bound here, but the node would have to choose
// it). So the proxies identify who dialed: at accept time they look the
// connection up in /proc/net/tcp by both ends (an ephemeral port can serve
// several connections at once) and find which child process holds the
// dialing socket (faultproxy.OwnerPID), which names the node.
// partition(sides...) then has each proxy of every node Block the nodes on
// other sides: connections across the cut, open or new, are blackholed (held
// open, nothing forwarded) like across a real partition, and closed on heal
// if they lost bytes. A connection not traced to any node is cut off from
// everyone during a partition, so a failed lookup cannot leak traffic
// across it. cutOneWay does the same in one direction only (BlockDir). This
// needs Linux and child processes of the same user, both true wherever
// these tests run.
//
// Other knobs: AGENDA_TEST_LOG=1 prints the tail of every node's log after
// each test (always done when a test fails); AGENDA_TEST_KEEP_LOGS=<dir>
// keeps the node logs there; AGENDA_TEST_NODE_LOG_LEVEL=debug turns the
// nodes' logging (Raft's included) up.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
	"github.com/agendahq/agenda/internal/faultproxy"
)

// testClusterSecret is the CLUSTER_HMAC_SECRET of every test cluster.
const testClusterSecret = "cluster-test-secret-0123456789abcdef-0123"

// testCluster is a set of node processes and their proxies.
type testCluster struct {
	t     testing.TB
	nodes []*clusterNode
	// expect is the BOOTSTRAP_EXPECT of every node.
	expect int
	// direct has nodes advertise their own ports, not their proxies: no
	// faults, and no proxy in the way of what benchmarks measure.
	direct bool
	// tls, if set, is how the test trusts the nodes, which serve HTTPS
	// (the test sets their TLS_* environment).
	tls *tls.Config

	mu   sync.Mutex
	pids map[int]string // live child process → node ID
	// unknown counts proxied connections not traced to a node.
	unknown int
}

// clusterNode is one node: its addresses, proxies and (while running) its
// process.
type clusterNode struct {
	tc        *testCluster
	id        string
	dataDir   string
	logPath   string
	httpAddr  string // the node's own HTTP port; the test talks to it
	raftAddr  string
	httpProxy *faultproxy.Proxy // what peers dial for HTTP
	raftProxy *faultproxy.Proxy // what peers dial for Raft
	// env is the node's configuration; tests may change it before start.
	env map[string]string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has exited
	exit   error
	// expectExit is set while the test is stopping the process itself.
	expectExit bool
}

// newTestCluster prepares size nodes n1..n<size> that expect each other
// (BOOTSTRAP_EXPECT=size, DISCOVERY_SEEDS=the others); none is started.
func newTestCluster(t testing.TB, size int) *testCluster {
	t.Helper()
	return newCluster(t, size, false)
}

// newDirectCluster is newTestCluster with the proxies out of the nodes' way
// (they cannot inject faults): for benchmarks.
func newDirectCluster(t testing.TB, size int) *testCluster {
	t.Helper()
	return newCluster(t, size, true)
}

func newCluster(t testing.TB, size int, direct bool) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a multi-process cluster")
	}
	tc := &testCluster{t: t, expect: size, direct: direct, pids: map[int]string{}}
	for i := 0; i < size; i++ {
		tc.addNode()
	}
	for _, n := range tc.nodes {
		n.env["DISCOVERY_SEEDS"] = tc.seedsFor(n)
	}
	t.Cleanup(tc.cleanup)
	return tc
}

// addNode prepares one more node, n<len+1>, configured like the others
// (DISCOVERY_SEEDS = every other node so far). It is not started.
func (tc *testCluster) addNode() *clusterNode {
	t := tc.t
	t.Helper()
	id := fmt.Sprintf("n%d", len(tc.nodes)+1)
	root := t.TempDir()
	n := &clusterNode{
		tc:      tc,
		id:      id,
		dataDir: filepath.Join(root, "data"),
		logPath: filepath.Join(root, "node.log"),
	}
	// Hold the node's ports while the proxies pick theirs, so that no proxy
	// takes one of them.
	var held []net.Listener
	for _, addr := range []*string{&n.httpAddr, &n.raftAddr} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ln)
		*addr = ln.Addr().String()
	}
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	if dir := os.Getenv("AGENDA_TEST_KEEP_LOGS"); dir != "" {
		// Keep the node logs after the test, in dir.
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
		n.logPath = filepath.Join(dir, fmt.Sprintf("%s-%s-%d.log", name, id, time.Now().UnixNano()))
	}
	var err error
	if n.httpProxy, err = faultproxy.New("127.0.0.1:0", n.httpAddr); err != nil {
		t.Fatal(err)
	}
	if n.raftProxy, err = faultproxy.New("127.0.0.1:0", n.raftAddr); err != nil {
		n.httpProxy.Close()
		t.Fatal(err)
	}
	for _, p := range n.proxies() {
		if !tc.direct {
			p.SetSource(tc.sourceOf)
		}
	}
	httpAdv, raftAdv := n.httpProxy.Addr(), n.raftProxy.Addr()
	if tc.direct {
		httpAdv, raftAdv = n.httpAddr, n.raftAddr
	}
	n.env = map[string]string{
		"NODE_ID":             id,
		"DATA_DIR":            n.dataDir,
		"HTTP_ADDR":           n.httpAddr,
		"RAFT_ADDR":           n.raftAddr,
		"ADVERTISE_ADDR":      httpAdv,
		"RAFT_ADVERTISE_ADDR": raftAdv,
		"BOOTSTRAP_EXPECT":    strconv.Itoa(tc.expect),
		"CLUSTER_HMAC_SECRET": testClusterSecret,
		"JWT_SECRET":          testJWTSecret,
		"LOG_LEVEL":           cmp.Or(os.Getenv("AGENDA_TEST_NODE_LOG_LEVEL"), "info"),
	}
	if base := os.Getenv("AGENDA_TEST_DEBUG_PORT"); base != "" {
		// Profile the nodes of a benchmark: node i serves pprof on
		// 127.0.0.1:base+i (see debug.go).
		port, err := strconv.Atoi(base)
		if err != nil {
			t.Fatalf("AGENDA_TEST_DEBUG_PORT=%q: %v", base, err)
		}
		n.env["DEBUG_ADDR"] = fmt.Sprintf("127.0.0.1:%d", port+len(tc.nodes))
	}
	tc.nodes = append(tc.nodes, n)
	n.env["DISCOVERY_SEEDS"] = tc.seedsFor(n)
	return n
}

// seedsFor lists the advertised HTTP addresses of every node but n.
func (tc *testCluster) seedsFor(n *clusterNode) string {
	var seeds []string
	for _, m := range tc.nodes {
		if m != n {
			seeds = append(seeds, m.env["ADVERTISE_ADDR"])
		}
	}
	return strings.Join(seeds, ",")
}

// unknownSource names the source of a proxied connection no node dialed
// (or that could not be traced): partitions cut it off from everyone, so
// that a failed lookup cannot leak traffic across a partition.
const unknownSource = "?"

// sourceOf names the node whose process dialed a proxied connection, or
// unknownSource.
func (tc *testCluster) sourceOf(conn net.Conn) string {
	tc.mu.Lock()
	pids := make([]int, 0, len(tc.pids))
	for pid := range tc.pids {
		pids = append(pids, pid)
	}
	tc.mu.Unlock()
	pid, ok := faultproxy.OwnerPID(conn, pids)
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if !ok || tc.pids[pid] == "" {
		tc.unknown++
		return unknownSource
	}
	return tc.pids[pid]
}

func (n *clusterNode) proxies() []*faultproxy.Proxy {
	return []*faultproxy.Proxy{n.httpProxy, n.raftProxy}
}

// start starts all nodes not running.
func (tc *testCluster) start() {
	tc.t.Helper()
	for _, n := range tc.nodes {
		if !n.running() {
			n.start()
		}
	}
}

// start launches the node's process; it does not wait for it to be ready.
func (n *clusterNode) start() {
	t := n.tc.t
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		t.Fatalf("%s: already running", n.id)
	}
	args := strings.Join([]string{"serve", "-bcrypt-cost", "4"}, "\x1f")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	env := append(os.Environ(), childEnv+"="+args)
	keys := sortedKeys(n.env)
	for _, k := range keys {
		env = append(env, k+"="+n.env[k])
	}
	cmd.Env = env
	cmd.SysProcAttr = childProcAttr()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== %s start %s\n", time.Now().UTC().Format(time.RFC3339Nano), n.id)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", n.id, err)
	}
	n.cmd, n.exited, n.exit, n.expectExit = cmd, make(chan struct{}), nil, false
	n.tc.mu.Lock()
	n.tc.pids[cmd.Process.Pid] = n.id
	n.tc.mu.Unlock()
	exited := n.exited
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.tc.mu.Lock()
		delete(n.tc.pids, cmd.Process.Pid)
		n.tc.mu.Unlock()
		n.mu.Lock()
		n.exit = err
		n.mu.Unlock()
		close(exited)
	}()
}

// running reports whether the node's process was started and has not been
// stopped by the test.
func (n *clusterNode) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// died returns a description of the node's death if its process exited
// without the test stopping it.
func (n *clusterNode) died() (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.expectExit {
		return "", false
	}
	select {
	case <-n.exited:
		return fmt.Sprintf("%s exited unexpectedly (%v)", n.id, n.exit), true
	default:
		return "", false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *clusterNode) kill() { n.signalAndWait(syscall.SIGKILL, 5*time.Second) }

// stop sends SIGTERM and waits (up to 20 s, then SIGKILL) for a clean exit,
// which must be status 0 with no data race reported in the log.
func (n *clusterNode) stop() {
	n.tc.t.Helper()
	if !n.running() {
		return
	}
	if !n.signalAndWait(syscall.SIGTERM, 20*time.Second) {
		n.tc.t.Errorf("%s did not stop within 20s of SIGTERM; killed", n.id)
		n.kill()
		return
	}
	n.mu.Lock()
	exit := n.exit
	n.mu.Unlock()
	if exit != nil {
		n.tc.t.Errorf("%s exited with %v after SIGTERM; last lines of its log:\n%s", n.id, exit, tailFile(n.logPath, 40))
	}
	if n.logContains("DATA RACE") {
		n.tc.t.Errorf("%s reported a data race; see %s", n.id, n.logPath)
	}
}

// signalAndWait signals the process and waits up to d for it to exit; false
// if it is still running. A node not running is a no-op.
func (n *clusterNode) signalAndWait(sig syscall.Signal, d time.Duration) bool {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	if cmd == nil {
		n.mu.Unlock()
		return true
	}
	n.expectExit = true
	n.mu.Unlock()
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(d):
		return false
	}
	n.mu.Lock()
	n.cmd = nil
	n.mu.Unlock()
	return true
}

// cleanup kills every node, closes the proxies and, if the test failed,
// prints the tail of every node's log.
func (tc *testCluster) cleanup() {
	for _, n := range tc.nodes {
		n.kill()
		for _, p := range n.proxies() {
			p.Close()
		}
	}
	tc.mu.Lock()
	if tc.unknown > 0 {
		tc.t.Logf("%d proxied connections were not traced to a node", tc.unknown)
	}
	tc.mu.Unlock()
	if tc.t.Failed() || os.Getenv("AGENDA_TEST_LOG") != "" {
		for _, n := range tc.nodes {
			tc.t.Logf("--- last lines of %s's log (%s):\n%s", n.id, n.logPath, tailFile(n.logPath, 40))
		}
	}
}

// tailFile returns the last lines of a file.
func tailFile(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// checkAlive fails the test if a node died on its own.
func (tc *testCluster) checkAlive() {
	tc.t.Helper()
	for _, n := range tc.nodes {
		if msg, dead := n.died(); dead {
			tc.t.Fatalf("%s; last lines of its log:\n%s", msg, tailFile(n.logPath, 40))
		}
	}
}

// ---------------------------------------------------------------------------
// Status and waiting.

// clusterStatus is the body of GET /cluster/status.
type clusterStatus struct {
	NodeID       string `json:"node_id"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	LeaderAddr   string `json:"leader_addr"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Position     int64  `json:"position"`
	Nodes        []struct {
		ID       string     `json:"id"`
		Address  string     `json:"address"`
		Suffrage string     `json:"suffrage"`
		LastSeen *time.Time `json:"last_seen"`
		Source   string     `json:"source"`
	} `json:"nodes"`
}

// voters returns the sorted IDs of the voters in s.
func (s clusterStatus) voters() []string {
	var out []string
	for _, n := range s.Nodes {
		if strings.EqualFold(n.Suffrage, "voter") {
			out = append(out, n.ID)
		}
	}
	slices.Sort(out)
	return out
}

// opsClient is for status probes: short timeouts, no test to fail.
var opsClient = &http.Client{Timeout: 2 * time.Second}

// url is the base URL of the node's own HTTP port.
func (n *clusterNode) url() string {
	if n.tc.tls != nil {
		return "https://" + n.httpAddr
	}
	return "http://" + n.httpAddr
}

// httpClient is a client of the cluster's nodes with the given timeout.
func (tc *testCluster) httpClient(timeout time.Duration) *http.Client {
	if tc.tls == nil {
		if timeout == opsClient.Timeout {
			return opsClient
		}
		return &http.Client{Timeout: timeout}
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tc.tls}}
}

// status fetches the node's /cluster/status.
func (n *clusterNode) status() (clusterStatus, error) {
	var s clusterStatus
	resp, err := n.tc.httpClient(opsClient.Timeout).Get(n.url() + "/cluster/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("status %d", resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// ready reports whether the node's /readyz answers 200.
func (n *clusterNode) ready() bool {
	resp, err := n.tc.httpClient(opsClient.Timeout).Get(n.url() + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// eventually polls cond every 50 ms until it returns "" (done) or d has
// passed, then fails with cond's last word. It fails at once if a node died.
func (tc *testCluster) eventually(d time.Duration, what string, cond func() string) {
	tc.t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for {
		tc.checkAlive()
		if last = cond(); last == "" {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("%s: not after %v: %s", what, d, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStable waits until every node of group (default: every running node)
// is ready, they all follow the same leader, which is one of them, and the
// leader's configuration has exactly group's nodes as voters — or, with
// allowOthers, at least them (nodes cut off or stopped are still members).
// It returns the leader.
func (tc *testCluster) waitStable(d time.Duration, group []*clusterNode, allowOthers bool) *clusterNode {
	tc.t.Helper()
	if group == nil {
		for _, n := range tc.nodes {
			if n.running() {
				group = append(group, n)
			}
		}
	}
	var leader *clusterNode
	tc.eventually(d, "cluster stable with one leader", func() string {
		leader = nil
		leaderID := ""
		for _, n := range group {
			s, err := n.status()
			if err != nil {
				return fmt.Sprintf("%s: %v", n.id, err)
			}
			if s.LeaderID == "" {
				return fmt.Sprintf("%s knows no leader", n.id)
			}
			if leaderID == "" {
				leaderID = s.LeaderID
			} else if s.LeaderID != leaderID {
				return fmt.Sprintf("%s follows %s, another node %s", n.id, s.LeaderID, leaderID)
			}
			if !n.ready() {
				return fmt.Sprintf("%s not ready", n.id)
			}
		}
		for _, n := range group {
			if n.id == leaderID {
				leader = n
			}
		}
		if leader == nil {
			return fmt.Sprintf("leader %s is not in the group", leaderID)
		}
		s, err := leader.status()
		if err != nil {
			return err.Error()
		}
		if s.State != "Leader" {
			return fmt.Sprintf("%s is %s, not Leader", leader.id, s.State)
		}
		voters := s.voters()
		for _, n := range group {
			if !slices.Contains(voters, n.id) {
				return fmt.Sprintf("%s is not a voter: voters %v", n.id, voters)
			}
		}
		if !allowOthers && len(voters) != len(group) {
			return fmt.Sprintf("voters %v, want %d", voters, len(group))
		}
		return ""
	})
	return leader
}

// followers returns the running nodes of group other than leader.
func followersOf(group []*clusterNode, leader *clusterNode) []*clusterNode {
	var out []*clusterNode
	for _, n := range group {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

// waitPosition waits until every node of group has applied the event at
// position pos to its read model.
func (tc *testCluster) waitPosition(d time.Duration, group []*clusterNode, pos int64) {
	tc.t.Helper()
	tc.eventually(d, fmt.Sprintf("every node at position %d", pos), func() string {
		for _, n := range group {
			s, err := n.status()
			if err != nil {
				return fmt.Sprintf("%s: %v", n.id, err)
			}
			if s.Position < pos {
				return fmt.Sprintf("%s at position %d", n.id, s.Position)
			}
		}
		return ""
	})
}

// ---------------------------------------------------------------------------
// Faults.

// partition cuts the cluster into sides: every connection from a node on
// one side to a node on another, Raft or HTTP, open or new, is blackholed.
// Nodes on no side are untouched. heal undoes it.
func (tc *testCluster) partition(sides ...[]*clusterNode) {
	side := map[*clusterNode]int{}
	for i, s := range sides {
		for _, n := range s {
			side[n] = i
		}
	}
	for a, sa := range side {
		for b, sb := range side {
			if sa != sb {
				for _, p := range b.proxies() {
					p.Block(a.id)
				}
			}
		}
	}
	for b := range side {
		for _, p := range b.proxies() {
			p.Block(unknownSource)
		}
	}
}

// cutOneWay drops every byte the nodes of from send to the nodes of to —
// Raft and HTTP, on connections either side dialed — while what to sends
// from still arrives: an asymmetric partition. heal undoes it.
func (tc *testCluster) cutOneWay(from, to []*clusterNode) {
	for _, a := range from {
		for _, b := range to {
			for _, p := range b.proxies() {
				p.BlockDir(a.id, faultproxy.Upstream) // a dialed b: a's requests
			}
			for _, p := range a.proxies() {
				p.BlockDir(b.id, faultproxy.Downstream) // b dialed a: a's answers
			}
		}
	}
	for _, b := range to {
		for _, p := range b.proxies() {
			p.Block(unknownSource)
		}
	}
}

// isolate cuts n off from every other node.
func (tc *testCluster) isolate(n *clusterNode) {
	tc.partition([]*clusterNode{n}, othersThan(tc.nodes, n))
}

// heal ends every fault.
func (tc *testCluster) heal() {
	for _, n := range tc.nodes {
		for _, p := range n.proxies() {
			p.Heal()
		}
	}
}

// othersThan returns group without n.
func othersThan(group []*clusterNode, n *clusterNode) []*clusterNode {
	var out []*clusterNode
	for _, m := range group {
		if m != n {
			out = append(out, m)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Clients and writes.

// client returns an API client of the node, for the test goroutine.
func (n *clusterNode) client() *client {
	return &client{t: n.tc.t, base: n.url(), http: n.tc.httpClient(15 * time.Second)}
}

// as returns a copy of c (its login) talking to node n.
func (c *client) as(n *clusterNode) *client {
	cp := *c
	cp.base = n.url()
	return &cp
}

// registerOn registers username through node n, retrying while the cluster
// answers unavailable, and returns a logged-in client of n.
func (tc *testCluster) registerOn(n *clusterNode, username string) *client {
	tc.t.Helper()
	c := n.client()
	body := map[string]any{"username": username, "password": "password-" + username}
	tc.eventually(15*time.Second, "register "+username, func() string {
		r, err := c.send("POST", "/api/auth/register", body)
		switch {
		case err != nil:
			return err.Error()
		case r.Status == http.StatusCreated:
			return ""
		case r.Status == http.StatusServiceUnavailable:
			return string(r.Body)
		}
		tc.t.Fatalf("register %s on %s: status %d: %s", username, n.id, r.Status, r.Body)
		return ""
	})
	tc.eventually(10*time.Second, "log in "+username, func() string {
		var out struct {
			Token string `json:"token"`
			User  struct {
				ID string `json:"id"`
			} `json:"user"`
		}
		r, err := c.send("POST", "/api/auth/login", map[string]any{"username": username, "password": "password-" + username})
		if err != nil {
			return err.Error()
		}
		if r.Status != http.StatusOK {
			// The user may not have reached this node's read model yet.
			return fmt.Sprintf("status %d: %s", r.Status, r.Body)
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			return err.Error()
		}
		c.token, c.userID = out.Token, out.User.ID
		return ""
	})
	return c
}

// clusterBase is the first slot of the appointments the cluster tests create.
var clusterBase = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)

// written is an acknowledged write.
type written struct {
	ID       string
	Position int64
	Node     string
}

// tryCreate creates the appointment in slot (one hour each, so slots never
// overlap) for c's user. It never touches the test: it returns the answer
// or the transport error, and the write if it was acknowledged.
func tryCreateSlot(c *client, slot int) (*response, *written, error) {
	start := clusterBase.Add(time.Duration(slot) * time.Hour)
	r, err := c.send("POST", "/api/appointments", appointmentBody(fmt.Sprintf("slot %d", slot), start, 30*time.Minute))
	if err != nil || r.Status != http.StatusCreated {
		return r, nil, err
	}
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.Body, &a); err != nil || a.ID == "" {
		return r, nil, fmt.Errorf("created, but no id in %s", r.Body)
	}
	pos, err := strconv.ParseInt(r.Header.Get("X-Agenda-Position"), 10, 64)
	if err != nil || pos <= 0 {
		return r, nil, fmt.Errorf("created, but X-Agenda-Position = %q", r.Header.Get("X-Agenda-Position"))
	}
	return r, &written{ID: a.ID, Position: pos}, nil
}

// create creates the appointment in slot through c, failing the test unless
// it is acknowledged.
func mustCreateSlot(t testing.TB, c *client, slot int) written {
	t.Helper()
	r, w, err := tryCreateSlot(c, slot)
	if err != nil {
		t.Fatalf("create slot %d on %s: %v", slot, c.base, err)
	}
	if w == nil {
		t.Fatalf("create slot %d on %s: status %d: %s", slot, c.base, r.Status, r.Body)
	}
	return *w
}

// createEventually retries create until the cluster acknowledges it (after
// a failover, say) and returns the write and how long it took. Each retry
// takes a fresh slot (slot + k·50,000), as an attempt whose answer was lost
// may have committed.
func (tc *testCluster) createEventually(c *client, slot int, d time.Duration) (written, time.Duration) {
	tc.t.Helper()
	start := time.Now()
	var w *written
	try := slot
	tc.eventually(d, fmt.Sprintf("create slot %d on %s", slot, c.base), func() string {
		r, ww, err := tryCreateSlot(c, try)
		try += 50_000
		switch {
		case err != nil:
			return err.Error()
		case ww != nil:
			w = ww
			return ""
		case r.Status != http.StatusServiceUnavailable:
			tc.t.Fatalf("create slot %d on %s: status %d: %s", try, c.base, r.Status, r.Body)
		}
		return fmt.Sprintf("status %d: %s", r.Status, r.Body)
	})
	return *w, time.Since(start)
}

// readAt fetches appointment id from node n with min_position pos (and the
// given extra query), returning the answer.
func readAtPosition(c *client, id string, pos int64, query string) (*response, error) {
	path := fmt.Sprintf("/api/appointments/%s?min_position=%d", id, pos)
	if query != "" {
		path += "&" + query
	}
	return c.send("GET", path, nil)
}

// expectVisibleEverywhere reads every write on every node of group with
// min_position: read-your-writes on any node.
func (tc *testCluster) expectVisibleEverywhere(c *client, group []*clusterNode, ws []written) {
	tc.t.Helper()
	for _, n := range group {
		cn := c.as(n)
		for _, w := range ws {
			r, err := readAtPosition(cn, w.ID, w.Position, "")
			if err != nil {
				tc.t.Fatalf("read %s on %s: %v", w.ID, n.id, err)
			}
			if r.Status != http.StatusOK {
				tc.t.Fatalf("read %s (position %d) on %s: status %d: %s", w.ID, w.Position, n.id, r.Status, r.Body)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Event store comparison.

// stopAndCompareEventStores waits until every node of group (default: all)
// has reached the same position, at least minPos, stops them all (SIGTERM),
// then reads every node's events.db and fails unless they hold the same
// events — IDs, positions, streams, versions, types, metadata and data, byte
// for byte. It returns the number of events.
func (tc *testCluster) stopAndCompareEventStores(group []*clusterNode, minPos int64) int {
	tc.t.Helper()
	if group == nil {
		group = tc.nodes
	}
	tc.eventually(30*time.Second, "every node at the same position", func() string {
		var first int64 = -1
		for _, n := range group {
			s, err := n.status()
			if err != nil {
				return fmt.Sprintf("%s: %v", n.id, err)
			}
			if s.Position < minPos {
				return fmt.Sprintf("%s at position %d, want ≥ %d", n.id, s.Position, minPos)
			}
			if first >= 0 && s.Position != first {
				return fmt.Sprintf("positions differ: %s at %d, another at %d", n.id, s.Position, first)
			}
			first = s.Position
		}
		return ""
	})
	for _, n := range group {
		n.stop()
	}
	var ref []events.Envelope
	for i, n := range group {
		evs := readEventStore(tc.t, filepath.Join(n.dataDir, "events.db"))
		if int64(len(evs)) < minPos {
			tc.t.Fatalf("%s's event store has %d events, want ≥ %d", n.id, len(evs), minPos)
		}
		if i == 0 {
			ref = evs
			continue
		}
		if len(evs) != len(ref) {
			tc.t.Fatalf("%s's event store has %d events, %s's %d", n.id, len(evs), group[0].id, len(ref))
		}
		for j := range evs {
			if d := diffEnvelope(ref[j], evs[j]); d != "" {
				tc.t.Fatalf("event %d differs between %s and %s: %s", j+1, group[0].id, n.id, d)
			}
		}
	}
	for j, e := range ref {
		if e.Position != int64(j+1) {
			tc.t.Fatalf("event %d has position %d: positions must be 1, 2, 3, ...", j+1, e.Position)
		}
	}
	tc.t.Logf("event stores of %d nodes identical: %d events", len(group), len(ref))
	return len(ref)
}

// readEventStore returns every event of the store at path, in order.
func readEventStore(t testing.TB, path string) []events.Envelope {
	t.Helper()
	ctx := context.Background()
	s, err := eventstore.Open(ctx, path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer s.Close()
	var all []events.Envelope
	var after int64
	for {
		page, err := s.Read(ctx, after, 1000)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Position
	}
}

// diffEnvelope describes how two events differ, "" if they do not.
func diffEnvelope(a, b events.Envelope) string {
	var d []string
	if a.ID != b.ID {
		d = append(d, fmt.Sprintf("id %s / %s", a.ID, b.ID))
	}
	if a.Position != b.Position {
		d = append(d, fmt.Sprintf("position %d / %d", a.Position, b.Position))
	}
	if a.Stream != b.Stream || a.Version != b.Version {
		d = append(d, fmt.Sprintf("stream %s@%d / %s@%d", a.Stream, a.Version, b.Stream, b.Version))
	}
	if a.Type != b.Type || a.SchemaVersion != b.SchemaVersion {
		d = append(d, fmt.Sprintf("type %s v%d / %s v%d", a.Type, a.SchemaVersion, b.Type, b.SchemaVersion))
	}
	if !a.Time.Equal(b.Time) || a.OriginNode != b.OriginNode || a.Actor != b.Actor || a.CorrelationID != b.CorrelationID {
		d = append(d, fmt.Sprintf("meta %v %s %s %s / %v %s %s %s", a.Time, a.OriginNode, a.Actor, a.CorrelationID, b.Time, b.OriginNode, b.Actor, b.CorrelationID))
	}
	if !bytes.Equal(a.Data, b.Data) {
		d = append(d, fmt.Sprintf("data %s / %s", a.Data, b.Data))
	}
	return strings.Join(d, "; ")
}

// logContains reports whether the node's log has a line containing s.
func (n *clusterNode) logContains(s string) bool { return n.logCount(s) > 0 }

// logCount counts the lines of the node's log that contain s.
func (n *clusterNode) logCount(s string) int {
	f, err := os.Open(n.logPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	count := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			count++
		}
	}
	return count
}

// writers write in a loop through nodes, one user each, recording every
// acknowledged write: the test checks afterwards that none was lost.
type bgWriters struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	acked    []written
	attempts int
}

// startWriters starts one writer per user, user i writing through
// nodes[i], in slots from firstSlot on (each user's own), with a client
// timeout of 8 s.
func startBgWriters(users []*client, nodes []*clusterNode, firstSlot int) *bgWriters {
	ws := &bgWriters{stop: make(chan struct{})}
	for i, u := range users {
		c := u.as(nodes[i])
		c.http = &http.Client{Timeout: 8 * time.Second}
		ws.wg.Add(1)
		go func(c *client, node string) {
			defer ws.wg.Done()
			for slot := firstSlot; ; slot++ {
				select {
				case <-ws.stop:
					return
				default:
				}
				_, w, _ := tryCreateSlot(c, slot)
				ws.mu.Lock()
				ws.attempts++
				if w != nil {
					w.Node = node
					ws.acked = append(ws.acked, *w)
				}
				ws.mu.Unlock()
				// A modest, steady load: the point is what happens to
				// writes across the faults, not throughput.
				time.Sleep(20 * time.Millisecond)
			}
		}(c, nodes[i].id)
	}
	return ws
}

// end stops the writers and returns the acknowledged writes and the number
// of attempts.
func (ws *bgWriters) end() ([]written, int) {
	close(ws.stop)
	ws.wg.Wait()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.acked, ws.attempts
}
