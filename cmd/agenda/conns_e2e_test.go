//go:build linux

package main

import (
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Finding 6 of issue 9: ~20,000 idle HTTP connections exhausted a node's
// file descriptors, and its outbound gossip then failed with "too many open
// files" (forwarding and Raft dials would have too). Here the follower runs
// with 2,048 descriptors and is sent 3,000 idle connections from three
// addresses: it holds no more than its limits allow, and its own gossip
// keeps reaching the other follower throughout.
func TestIdleConnectionsDoNotStarveOutbound(t *testing.T) {
	tc := newDirectCluster(t, 3)
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	fs := followersOf(tc.nodes, leader)
	target, witness := fs[0], fs[1]
	// Lower the follower's descriptor limit (the Go runtime raised it to
	// the hard limit at start; the node reads it when it opens, well after
	// this).
	target.stop()
	target.start()
	lim := unix.Rlimit{Cur: 2048, Max: 2048}
	if err := unix.Prlimit(target.pid(), unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	tc.waitStable(clusterTimeout, nil, false)

	var conns []net.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 3000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 3, byte(1+i/1000))}}
			if c, err := d.Dial("tcp", target.httpAddr); err == nil {
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	t.Logf("%d idle connections open to %s", len(conns), target.id)
	// For 4 s (within the 5 s header timeout, so none has been dropped
	// yet): the follower's gossip stays fresh at the other follower, and
	// it never holds more descriptors than it has.
	for range 8 {
		time.Sleep(500 * time.Millisecond)
		if fds := openFDs(target.pid()); fds >= 2048 {
			t.Fatalf("%s holds %d descriptors, its limit is 2048", target.id, fds)
		}
		s, err := witness.status()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range s.Nodes {
			if n.ID == target.id && (n.LastSeen == nil || time.Since(*n.LastSeen) > 3*time.Second) {
				t.Fatalf("%s's gossip has not reached %s since %v", target.id, witness.id, n.LastSeen)
			}
		}
	}
	if target.logContains("too many open files") {
		t.Errorf("%s ran out of file descriptors", target.id)
	}
}
