package consensus

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// streamFSM records the commands it applied.
type streamFSM struct {
	mu      sync.Mutex
	applied []string
}

func (f *streamFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, string(l.Data))
	return nil
}

func (f *streamFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("not supported") }
func (f *streamFSM) Restore(io.ReadCloser) error         { return errors.New("not supported") }

func (f *streamFSM) has(cmd string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.applied {
		if a == cmd {
			return true
		}
	}
	return false
}

type streamRaftNode struct {
	id      string
	layer   *StreamLayer
	raft    *raft.Raft
	fsm     *streamFSM
	rejects *streamRejects
}

// TestStreamRaftCluster runs real hashicorp/raft nodes over StreamLayers:
// three share the secret, a fourth, configured as a voter too, has another.
// The three elect a leader and commit (3 of 4 is a quorum); the fourth never
// takes part.
func TestStreamRaftCluster(t *testing.T) {
	nodes := make([]*streamRaftNode, 4)
	var servers []raft.Server
	for i := range nodes {
		n := &streamRaftNode{id: fmt.Sprintf("node-%d", i+1), fsm: &streamFSM{}, rejects: newStreamRejects()}
		secret := streamSecret
		if i == 3 {
			secret = streamOtherSecret
		}
		n.layer = mustStreamLayer(t, n.id, func(c *StreamConfig) {
			c.Secret = secret
			c.AdvertiseAddr = "localhost:0"
			c.OnReject = n.rejects.hook
		})
		servers = append(servers, raft.Server{ID: raft.ServerID(n.id), Address: raft.ServerAddress(n.layer.Addr().String()), Suffrage: raft.Voter})
		nodes[i] = n
	}
	for _, n := range nodes {
		rc := raft.DefaultConfig()
		rc.LocalID = raft.ServerID(n.id)
		rc.HeartbeatTimeout = 200 * time.Millisecond
		rc.ElectionTimeout = 200 * time.Millisecond
		rc.LeaderLeaseTimeout = 100 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
		rc.Logger = hclog.NewNullLogger()
		trans := raft.NewNetworkTransport(n.layer, 3, time.Second, io.Discard)
		logs, stable, snaps := raft.NewInmemStore(), raft.NewInmemStore(), raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			t.Fatalf("bootstrap %s: %v", n.id, err)
		}
		r, err := raft.NewRaft(rc, n.fsm, logs, stable, snaps, trans)
		if err != nil {
			t.Fatalf("start %s: %v", n.id, err)
		}
		n.raft = r
		t.Cleanup(func() {
			r.Shutdown().Error()
			trans.Close()
		})
	}

	start := time.Now()
	var leader *streamRaftNode
	for leader == nil {
		if time.Since(start) > 5*time.Second {
			t.Fatal("no leader elected within 5s")
		}
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				leader = n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%s elected after %v", leader.id, time.Since(start))
	if leader == nodes[3] {
		t.Fatal("the node with the wrong secret became leader")
	}

	if err := leader.raft.Apply([]byte("hello"), 2*time.Second).Error(); err != nil {
		t.Fatalf("Apply on %s: %v", leader.id, err)
	}
	for _, n := range nodes[:3] {
		deadline := time.Now().Add(3 * time.Second)
		for !n.fsm.has("hello") {
			if time.Now().After(deadline) {
				t.Fatalf("%s never applied the entry", n.id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("committed on the three after %v", time.Since(start))

	bad := nodes[3]
	if bad.fsm.has("hello") {
		t.Error("the node with the wrong secret applied the entry")
	}
	if got := bad.raft.State(); got == raft.Leader {
		t.Errorf("node with the wrong secret is %v", got)
	}
	if _, id := bad.raft.LeaderWithID(); id != "" {
		t.Errorf("node with the wrong secret knows leader %q; it should hear from no one", id)
	}
	// The leader's attempts to reach it were refused by it, and its vote
	// requests were refused by the others.
	if bad.rejects.count.Load() == 0 {
		t.Error("the node with the wrong secret rejected no connection from the leader")
	}
	refusedByGood := func() (sum int64) {
		for _, n := range nodes[:3] {
			sum += n.rejects.count.Load()
		}
		return sum
	}
	// Hearing no leader, the fourth campaigns; its vote requests must be
	// refused, and the cluster must keep committing meanwhile.
	deadline := time.Now().Add(5 * time.Second)
	for refusedByGood() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no good node rejected the node with the wrong secret within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := leader.raft.Apply([]byte("again"), 2*time.Second).Error(); err != nil {
		t.Fatalf("Apply while the fourth campaigns: %v", err)
	}
	if got := leader.raft.State(); got != raft.Leader {
		t.Errorf("%s is %v after the fourth campaigned, want still leader", leader.id, got)
	}
	if bad.fsm.has("again") || bad.raft.State() == raft.Leader {
		t.Error("the node with the wrong secret took part")
	}
	t.Logf("good nodes refused the fourth %d times, it refused %d; cluster still commits", refusedByGood(), bad.rejects.count.Load())
}
