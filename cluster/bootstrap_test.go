package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
)

// emptiedRaft is a node that lost its data dir: no Raft state, its vote
// gate closed (as consensus.Open leaves it), no leader known.
type emptiedRaft struct {
	Raft
	mu           sync.Mutex
	gated        bool
	bootstrapped []consensus.Server
	why          string
}

func (f *emptiedRaft) ID() string                        { return "agenda-2" }
func (f *emptiedRaft) IsShutdown() bool                  { return false }
func (f *emptiedRaft) IsLeader() bool                    { return false }
func (f *emptiedRaft) Leader() (string, string)          { return "", "" }
func (f *emptiedRaft) Unreachable() map[string]time.Time { return nil }
func (f *emptiedRaft) Superseded() *consensus.Superseded { return nil }
func (f *emptiedRaft) Unproven() bool                    { return false }
func (f *emptiedRaft) HasState() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bootstrapped != nil
}
func (f *emptiedRaft) Servers() ([]consensus.Server, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bootstrapped, nil
}
func (f *emptiedRaft) VoteGated() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gated
}
func (f *emptiedRaft) AllowVoting(why string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gated, f.why = false, why
	return nil
}
func (f *emptiedRaft) Bootstrap(s []consensus.Server) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bootstrapped, f.gated = s, false
	return nil
}

// Found by a review of fault tolerance: a node that lost its volume, in a
// stack left at BOOTSTRAP_EXPECT=1 with discovery (deploy/README.md's
// restore procedure deployed it so), whose first gossip round reached
// nobody, opened its vote gate and founded a cluster of its own, serving
// an empty history beside the real cluster. With the nodes discovery names
// silent, it now waits for them.
func TestSilentPeersKeepAnEmptiedNodeFromFoundingACluster(t *testing.T) {
	f := &emptiedRaft{gated: true}
	a := NewAgent(Config{
		Self:     Member{ID: "agenda-2", RaftAddr: "127.0.0.1:7002", HTTPAddr: "127.0.0.1:8082"},
		Secret:   testSecret,
		Expect:   1,
		Seeds:    []string{"127.0.0.1:1", "127.0.0.1:2"}, // its peers, out of reach for now
		Interval: 50 * time.Millisecond,
	}, f)
	a.Start()
	defer a.Close()
	time.Sleep(400 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bootstrapped != nil || !f.gated {
		t.Fatalf("vote gate closed = %v (opened because %q), bootstrapped %v: want it closed and no cluster", f.gated, f.why, f.bootstrapped)
	}
}
