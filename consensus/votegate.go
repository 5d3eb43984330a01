package consensus

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// A node that starts with no Raft state may have been a voter before: its
// data dir was lost, and it came back with the same NODE_ID and address.
// Raft's safety rests on a voter never forgetting what it acknowledged; an
// emptied voter has forgotten, and hashicorp/raft lets a node with an empty
// configuration grant its vote to anyone. With one other node cut off, the
// emptied one and a stale follower form a majority that elects the stale
// follower, and every write the lost disk had acknowledged vanishes.
//
// The vote gate closes that hole. A node that opens without Raft state (and
// does not bootstrap alone) neither grants nor asks for votes — pre-votes
// included — until its log holds everything the cluster had committed when
// it asked: the cluster agent gets a read index from a confirmed leader and
// calls OpenVoteGate with it; the gate opens once the local log reaches it.
// Until then the node still replicates (it acknowledges entries like any
// follower), it only takes no part in elections. Nodes that form a brand-new
// cluster together, where nobody has any history to lose, open the gate when
// they take part in the bootstrap (AllowVoting).
//
// The gate survives restarts: a marker file in the Raft directory is
// written when the gate closes and removed when it opens, so a node that
// crashes half-way through catching up comes back still gated.

// The same holds for a node that lost only part of its Raft state, which
// hashicorp/raft still counts as existing (HasExistingState is true with a
// snapshot alone): the log and its stable keys lost while the snapshots
// stayed, or a Raft directory restored from an older copy. Either way it
// has forgotten its term, its vote or entries it acknowledged, and its
// event store shows it: what it applied lies beyond the end of its log
// (see forgotten).
//
// voteGateFile marks a Raft directory whose node may not vote yet.
const voteGateFile = "vote-gate"

// errVoteGated is what an outbound vote request of a gated node fails with.
var errVoteGated = errors.New("consensus: this node may not take part in elections until it has caught up with the cluster")

// voteGate is open or closed; closed it refuses votes both ways.
type voteGate struct {
	closed atomic.Bool
	marker string
	logger *slog.Logger
	mu     sync.Mutex // serialises opening
}

// newVoteGate returns the gate of the Raft directory dir: closed if the
// directory is marked, or if fresh is true (then it is marked now).
func newVoteGate(dir string, fresh bool, logger *slog.Logger) (*voteGate, error) {
	g := &voteGate{marker: filepath.Join(dir, voteGateFile), logger: logger}
	if _, err := os.Stat(g.marker); err == nil {
		g.closed.Store(true)
		return g, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("vote gate: %w", err)
	}
	if !fresh {
		return g, nil
	}
	if err := writeSynced(g.marker, nil); err != nil {
		return nil, fmt.Errorf("vote gate: %w", err)
	}
	g.closed.Store(true)
	return g, nil
}

// ErrLostRaftLog is why a node that would be its cluster's only voter does
// not start when it forgot part of its Raft log: if it was alone, nobody
// else holds the entries its event store applied, and new entries would be
// numbered over them. What it kept cannot tell whether others joined it
// since (a snapshot may predate their joining), so the error names both
// ways out.
var ErrLostRaftLog = errors.New("this node lost Raft log entries its event store applied, and the Raft state it kept names no other voter")

// lostRaftLog is ErrLostRaftLog with the reason and what to do.
func lostRaftLog(why string) error {
	return fmt.Errorf("%w (%s). If other nodes joined it since, move its raft directory aside and start it "+
		"with DISCOVERY_SEEDS naming them: it rejoins, and takes no part in elections until it has caught up. "+
		"If it was alone, start a new cluster from its event store: back up this data dir with `agenda backup` "+
		"and `agenda restore` the copy into a new one", ErrLostRaftLog, why)
}

// ErrLostSnapshots is why a node whose Raft log was compacted behind
// snapshots it no longer has does not start: hashicorp/raft reads the log
// from the entry after its newest snapshot, and panicked at every start
// ("log not found") when a fault-injection review deleted raft/snapshots.
var ErrLostSnapshots = errors.New("this node's raft log was compacted behind snapshots it no longer has")

// logCovered refuses a Raft log whose first entry is not the one after the
// newest snapshot (or the first entry, without one), saying what to do.
func logCovered(dir string, logs raft.LogStore, snaps raft.SnapshotStore) error {
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("read the raft log's first index: %w", err)
	}
	list, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list raft snapshots: %w", err)
	}
	var snapshot uint64
	if len(list) > 0 {
		snapshot = list[0].Index
	}
	if first <= snapshot+1 {
		return nil
	}
	return fmt.Errorf("%w (the log starts at entry %d, the newest snapshot ends at %d: its snapshots were lost). "+
		"Move %s aside and start it again with DISCOVERY_SEEDS naming the other nodes: it rejoins as a node that lost its Raft log, "+
		"and takes no part in elections until it has caught up. If it was its cluster's only node, back up this data dir "+
		"with `agenda backup` and `agenda restore` the copy into a new one", ErrLostSnapshots, first, snapshot, dir)
}

// ErrRestoredNotAlone is why a node on a restored event store (one
// `agenda restore` wrote) does not start with seeds or BOOTSTRAP_EXPECT.
var ErrRestoredNotAlone = errors.New("this data dir holds a restored event store: start it alone first " +
	"(no DISCOVERY_SEEDS, DISCOVERY_DNS_NAME or BOOTSTRAP_EXPECT above 1), then start the other nodes empty with seeds pointing at it")

// ErrVoteGated is why `cluster recover` refuses a node whose vote gate is
// closed: it may have forgotten what it acknowledged, so it must not help
// decide which history survives.
var ErrVoteGated = errors.New("this node may not vote: it lost part or all of its Raft state and had not caught up; " +
	"recover the cluster from the other survivors without it, then let it rejoin; if it is the only survivor, " +
	"start a new cluster from its event store with `agenda backup` and `agenda restore`")

// soleVoter reports whether id is the only voter of r's configuration.
func soleVoter(r *raft.Raft, id raft.ServerID) bool {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	voters := 0
	self := false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
			self = self || s.ID == id
		}
	}
	return voters == 1 && self
}

// keyCurrentTerm is where hashicorp/raft keeps the current term in the
// stable store (its own constant is not exported).
var keyCurrentTerm = []byte("CurrentTerm")

// forgotten says why a node's Raft state may not hold all it acknowledged,
// or "" if nothing shows it forgot anything:
//   - no Raft state at all (a lost or new data dir);
//   - no current term beside a log or snapshots: the stable store is gone,
//     and with it the node's last vote;
//   - the event store applied entries beyond the end of both the log and
//     the newest snapshot: they were committed, so this node had them in
//     its log, and lost them.
//
// has is raft.HasExistingState of the same stores, which the caller has.
func forgotten(has bool, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, applied uint64) (string, error) {
	if !has {
		return "no raft state", nil
	}
	if term, err := stable.GetUint64(keyCurrentTerm); err != nil || term == 0 {
		return "no current term beside its raft log or snapshots: its log and last vote were lost", nil
	}
	last, err := lastRaftIndex(logs, snaps)
	if err != nil {
		return "", err
	}
	if applied > last {
		return fmt.Sprintf("its event store applied entry %d, beyond the end of its raft log and snapshots (%d)", applied, last), nil
	}
	return "", nil
}

// open opens the gate for good (removing the marker); why is logged.
func (g *voteGate) open(why string, attrs ...any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed.Load() {
		return nil
	}
	if err := removeSynced(g.marker); err != nil {
		return fmt.Errorf("vote gate: %w", err)
	}
	g.closed.Store(false)
	g.logger.Info("this node may now vote in elections", append([]any{"why", why}, attrs...)...)
	return nil
}

// gatedTransport is the Raft transport with the vote gate in front: while
// the gate is closed, vote and pre-vote requests are answered "not granted"
// without reaching Raft, and this node's own are not sent. It also records
// which AppendEntries requests the peers accepted (acks, for ReadIndex).
// Once the node is superseded (era.go), nothing passes either way.
// Everything else passes through untouched.
type gatedTransport struct {
	*raft.NetworkTransport
	gate    *voteGate
	localID raft.ServerID
	rpcs    chan raft.RPC
	done    chan struct{}
	once    sync.Once
	acks    *peerAcks
	era     *eraBook

	// stallOut and stallIn, when set, hold this node's view of the network
	// until released: answers to its AppendEntries (heartbeats included)
	// once they have arrived, and requests from its peers. That is what a
	// paused process sees on resuming, with its own timers kept running.
	// Only tests set them (export_test.go); nil otherwise.
	stallOut, stallIn atomic.Pointer[stall]
}

// stall holds what passes a transport until release closes.
type stall struct {
	release chan struct{}
	held    atomic.Int64 // how many were held so far
}

var (
	_ raft.Transport   = (*gatedTransport)(nil)
	_ raft.WithPreVote = (*gatedTransport)(nil)
	_ raft.WithClose   = (*gatedTransport)(nil)
)

func newGatedTransport(t *raft.NetworkTransport, gate *voteGate, localID raft.ServerID, era *eraBook) *gatedTransport {
	g := &gatedTransport{NetworkTransport: t, gate: gate, localID: localID,
		rpcs: make(chan raft.RPC), done: make(chan struct{}), acks: newPeerAcks(), era: era}
	go g.filter()
	return g
}

// filter passes RPCs on to Raft, answering vote requests itself while the
// gate is closed.
func (g *gatedTransport) filter() {
	in := g.NetworkTransport.Consumer()
	for {
		select {
		case <-g.done:
			return
		case rpc := <-in:
			if !g.wait(&g.stallIn) {
				return
			}
			if g.superseded() {
				g.refuseAll(rpc)
				continue
			}
			if g.gate.closed.Load() && g.refuse(rpc) {
				continue
			}
			select {
			case g.rpcs <- rpc:
			case <-g.done:
				return
			}
		}
	}
}

// refuse answers a vote or pre-vote request "not granted", at the
// candidate's own term so that it neither steps down nor counts the vote.
func (g *gatedTransport) refuse(rpc raft.RPC) bool {
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(g.localID),
		Addr: g.EncodePeer(g.localID, g.LocalAddr())}
	switch req := rpc.Command.(type) {
	case *raft.RequestVoteRequest:
		rpc.Respond(&raft.RequestVoteResponse{RPCHeader: header, Term: req.Term}, nil)
		return true
	case *raft.RequestPreVoteRequest:
		rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: header, Term: req.Term}, nil)
		return true
	}
	return false
}

// superseded reports whether this node was left out of a later era: it
// then takes no part in Raft, so that its old peers elect without it and
// meet the new era themselves.
func (g *gatedTransport) superseded() bool { return g.era.Superseded() != nil }

// refuseAll answers rpc with errSuperseded, having read a snapshot's data
// so that the connection stays in step.
func (g *gatedTransport) refuseAll(rpc raft.RPC) {
	if rpc.Reader != nil {
		_, _ = io.Copy(io.Discard, rpc.Reader)
	}
	rpc.Respond(nil, errSuperseded)
}

// wait blocks while a stall is set; false if the transport closed
// meanwhile.
func (g *gatedTransport) wait(p *atomic.Pointer[stall]) bool {
	s := p.Load()
	if s == nil {
		return true
	}
	s.held.Add(1)
	select {
	case <-s.release:
		return true
	case <-g.done:
		return false
	}
}

// AppendEntries sends an AppendEntries request (raft's heartbeats are
// these), records whether the peer accepted it, and hands raft the answer
// once any stall is over.
func (g *gatedTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if g.superseded() {
		return errSuperseded
	}
	seq := g.acks.next()
	err := g.NetworkTransport.AppendEntries(id, target, args, resp)
	if !g.wait(&g.stallOut) {
		return raft.ErrTransportShutdown
	}
	// Counted for the server that answered, which must be the one raft
	// meant: an address reused by another server must not vote twice.
	if err == nil && resp.Success && resp.Term == args.Term && string(resp.ID) == string(id) {
		g.acks.record(id, seq, args.Term)
	}
	return err
}

// SetHeartbeatHandler registers raft's fast path for heartbeats, which
// bypasses Consumer, behind any stall.
func (g *gatedTransport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		g.NetworkTransport.SetHeartbeatHandler(nil)
		return
	}
	g.NetworkTransport.SetHeartbeatHandler(func(rpc raft.RPC) {
		if !g.wait(&g.stallIn) {
			return
		}
		if g.superseded() {
			g.refuseAll(rpc)
			return
		}
		cb(rpc)
	})
}

// Consumer returns the filtered RPCs.
func (g *gatedTransport) Consumer() <-chan raft.RPC { return g.rpcs }

// RequestVote sends a vote request unless the gate is closed.
func (g *gatedTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	if g.superseded() {
		return errSuperseded
	}
	if g.gate.closed.Load() {
		return errVoteGated
	}
	return g.NetworkTransport.RequestVote(id, target, args, resp)
}

// RequestPreVote sends a pre-vote request unless the gate is closed.
func (g *gatedTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	if g.superseded() {
		return errSuperseded
	}
	if g.gate.closed.Load() {
		return errVoteGated
	}
	return g.NetworkTransport.RequestPreVote(id, target, args, resp)
}

// InstallSnapshot sends a snapshot unless this node is superseded.
func (g *gatedTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if g.superseded() {
		return errSuperseded
	}
	return g.NetworkTransport.InstallSnapshot(id, target, args, resp, data)
}

// TimeoutNow hands leadership over unless this node is superseded.
func (g *gatedTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	if g.superseded() {
		return errSuperseded
	}
	return g.NetworkTransport.TimeoutNow(id, target, args, resp)
}

// Close stops the filter and the transport.
func (g *gatedTransport) Close() error {
	g.once.Do(func() { close(g.done) })
	return g.NetworkTransport.Close()
}

// VoteGated reports whether this node is still barred from elections
// because it started without Raft state and has not yet caught up.
func (n *Node) VoteGated() bool { return n.gate.closed.Load() }

// OpenVoteGate opens the vote gate once this node's log reaches target, a
// read index a confirmed leader gave (everything committed cluster-wide
// when it was asked). It reports whether the gate is open.
func (n *Node) OpenVoteGate(target uint64) (bool, error) {
	if !n.gate.closed.Load() {
		return true, nil
	}
	last := n.raft.LastIndex()
	if target == 0 || last < target {
		return false, nil
	}
	if err := n.gate.open("caught up with the cluster's commit index", "target", target, "last_index", last); err != nil {
		return false, err
	}
	return true, nil
}

// AllowVoting opens the vote gate at once. Only for a node taking part in
// the bootstrap of a new cluster, where no node has history to lose.
func (n *Node) AllowVoting(why string) error { return n.gate.open(why) }
