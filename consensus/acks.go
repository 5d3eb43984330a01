package consensus

// This file holds the leader's record of which AppendEntries requests its
// peers accepted, by the order they were sent: the quorum proof of a read
// index (readindex.go).

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// peerAcks numbers every AppendEntries request this node sends through
// Transport.AppendEntries (heartbeats, and replication while pipelining is
// off, as node.go sets it) and records, per peer, the newest one the peer
// accepted in the request's own term.
//
// An accepted request proves that the peer had not moved to a newer term
// when it processed it; a request sent after some moment was processed
// after it. That is what a leadership check needs, and what raft's
// VerifyLeader lacks: it counts answers by when they arrive, so an answer
// to a heartbeat sent long before the check (a paused process reads it on
// resuming) votes for a leader the cluster has already replaced.
type peerAcks struct {
	seq atomic.Uint64 // requests numbered so far

	mu      sync.Mutex
	acked   map[raft.ServerID]peerAck
	changed chan struct{} // closed at the next record
}

// peerAck is the newest request a peer accepted: its number and term.
type peerAck struct{ seq, term uint64 }

func newPeerAcks() *peerAcks {
	return &peerAcks{acked: map[raft.ServerID]peerAck{}, changed: make(chan struct{})}
}

// next numbers a request about to be sent.
func (p *peerAcks) next() uint64 { return p.seq.Add(1) }

// sent is the number of the last request numbered: requests numbered
// later were sent after this call.
func (p *peerAcks) sent() uint64 { return p.seq.Load() }

// record notes that peer accepted request seq of term.
func (p *peerAcks) record(peer raft.ServerID, seq, term uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.acked[peer]; ok && a.seq >= seq {
		return
	}
	p.acked[peer] = peerAck{seq, term}
	close(p.changed)
	p.changed = make(chan struct{})
}

// since reports which of peers accepted, in term, a request numbered after
// seq, and returns a channel closed at the next record.
func (p *peerAcks) since(seq, term uint64, peers []raft.ServerID) (acked int, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range peers {
		if a, ok := p.acked[id]; ok && a.seq > seq && a.term == term {
			acked++
		}
	}
	return acked, p.changed
}
