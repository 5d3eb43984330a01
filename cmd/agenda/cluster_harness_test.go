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
	"cmp"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
		ln := listenLow(t, "127.0.0.1")
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

// snapshotOften makes the node snapshot every threshold entries, checked
// every interval, keeping trailing entries behind: so that tests see
// snapshots taken, installed and compacted within seconds.
func (n *clusterNode) snapshotOften(threshold, trailing int, interval string) {
	n.env["SNAPSHOT_THRESHOLD"] = strconv.Itoa(threshold)
	n.env["TRAILING_LOGS"] = strconv.Itoa(trailing)
	n.env["SNAPSHOT_INTERVAL"] = interval
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
		// SIGQUIT makes the Go runtime write every goroutine's stack to
		// the node's log: what the shutdown was waiting for.
		if !n.signalAndWait(syscall.SIGQUIT, 5*time.Second) {
			n.kill()
		}
		n.tc.t.Errorf("%s did not stop within 20s of SIGTERM; its goroutines are in %s", n.id, n.logPath)
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
