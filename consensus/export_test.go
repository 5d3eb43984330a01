package consensus

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/events"
)

// Stall holds this node's view of the network, as a paused process has it
// on resuming: answers to its AppendEntries (heartbeats included) are held
// once they arrive, and so are its peers' requests. heldOut counts the
// answers held so far; releaseOut hands them to raft; releaseIn lets the
// peers' requests in. The releases may be called more than once.
func (n *Node) Stall() (heldOut func() int64, releaseOut, releaseIn func()) {
	release := func(p *atomic.Pointer[stall], s *stall) func() {
		var once sync.Once
		return func() {
			once.Do(func() {
				p.Store(nil)
				close(s.release)
			})
		}
	}
	out, in := &stall{release: make(chan struct{})}, &stall{release: make(chan struct{})}
	n.transport.stallOut.Store(out)
	n.transport.stallIn.Store(in)
	return out.held.Load, release(&n.transport.stallOut, out), release(&n.transport.stallIn, in)
}

// SetTimeouts changes this node's heartbeat and election timeouts while it
// runs; a follower checks its leader's silence against the new heartbeat
// timeout at once.
func (n *Node) SetTimeouts(heartbeat, election time.Duration) error {
	return n.pacer.reload(func(rc *raft.ReloadableConfig) {
		rc.HeartbeatTimeout, rc.ElectionTimeout = heartbeat, election
	})
}

// TransferLeadershipTo hands this leader's leadership to server id.
func (n *Node) TransferLeadershipTo(id, addr string) error {
	return n.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr)).Error()
}

// TermProven reports, without asking for it, whether this leader has seen
// a barrier of its current term applied (readTerm).
func (n *Node) TermProven() bool {
	return n.IsLeader() && n.readTerm.Load() == n.raft.CurrentTerm()
}

// LogFirstIndex opens the Raft log in dir (its node closed) and returns its
// first index.
func LogFirstIndex(dir string) (uint64, error) {
	s, err := openLogStore(dir)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.FirstIndex()
}

// AppendCommand appends b to the Raft log in dir (its node closed) as a
// command of the last entry's term, which the node never heard committed.
func AppendCommand(dir string, b events.Batch) (uint64, error) {
	data, err := encodeBatch(b)
	if err != nil {
		return 0, err
	}
	return appendEntry(dir, raft.LogCommand, data)
}

// AppendConfiguration appends, the same way, a configuration of voters.
func AppendConfiguration(dir string, voters ...string) (uint64, error) {
	var c raft.Configuration
	for _, v := range voters {
		c.Servers = append(c.Servers, raft.Server{ID: raft.ServerID(v), Address: raft.ServerAddress("127.0.0.1:1"), Suffrage: raft.Voter})
	}
	return appendEntry(dir, raft.LogConfiguration, raft.EncodeConfiguration(c))
}

func appendEntry(dir string, typ raft.LogType, data []byte) (uint64, error) {
	s, err := openLogStore(dir)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	last, err := s.LastIndex()
	if err != nil {
		return 0, err
	}
	var l raft.Log
	if err := s.GetLog(last, &l); err != nil {
		return 0, err
	}
	return last + 1, s.StoreLog(&raft.Log{Index: last + 1, Term: l.Term, Type: typ, Data: data})
}

// CurrentTerm reads the current term kept in dir (its node closed).
func CurrentTerm(dir string) (uint64, error) {
	s, err := openLogStore(dir)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.GetUint64(keyCurrentTerm)
}

// MarkUnproven sets the FSM's unproven index in memory, as an installed
// snapshot behind the store does.
func (n *Node) MarkUnproven(index uint64) { n.fsm.unproven.Store(index) }

// SetSnapshotFloor lowers the least paced snapshot threshold, so that a
// test sees pacing after a few hundred entries instead of 262,144.
func SetSnapshotFloor(c *Config, floor uint64) { c.snapshotFloor = floor }

// SnapshotThreshold is Raft's snapshot threshold now.
func (n *Node) SnapshotThreshold() uint64 { return n.raft.ReloadableConfig().SnapshotThreshold }

// LastSnapshotIndex is the index of the newest snapshot Raft knows of.
func (n *Node) LastSnapshotIndex() uint64 {
	i, _ := strconv.ParseUint(n.raft.Stats()["last_snapshot_index"], 10, 64)
	return i
}
