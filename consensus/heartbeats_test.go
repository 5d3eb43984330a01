package consensus

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A peer removed and added again is not unreachable since before it was
// added: a Swarm review saw the reaper remove a rejoining node 50 ms after
// it was added, on the contact time of its earlier membership, which the
// old replication reported after the removal (or before the re-add).
func TestHeartbeatsForgetAnEarlierMembership(t *testing.T) {
	old := time.Now().Add(-5 * time.Minute)
	peer := raft.Server{ID: "n4", Address: "n4:7000"}
	failed := raft.Observation{Data: raft.FailedHeartbeatObservation{PeerID: peer.ID, LastContact: old}}
	removed := raft.Observation{Data: raft.PeerObservation{Peer: peer, Removed: true}}
	added := raft.Observation{Data: raft.PeerObservation{Peer: peer}}

	for name, seq := range map[string][]raft.Observation{
		"a late failure, then the re-add":     {failed, removed, failed, added},
		"the re-add, then a late failure":     {failed, removed, added, failed},
		"a failure of the new replication":    {added, failed},
		"removed and not back: nothing to do": {failed, removed},
	} {
		t.Run(name, func(t *testing.T) {
			h := &heartbeats{failing: map[string]time.Time{}, started: map[string]time.Time{}}
			before := time.Now()
			for _, o := range seq {
				h.observe(o)
			}
			last, failing := h.failing[string(peer.ID)]
			if seq[len(seq)-1] == removed {
				if failing {
					t.Fatalf("a removed peer is still failing since %v", last)
				}
				return
			}
			if failing && last.Before(before) {
				t.Fatalf("the peer counts as unreachable since %v, before its replication started (%v)", last, before)
			}
		})
	}

	// A peer that was never removed keeps its real last contact.
	h := &heartbeats{failing: map[string]time.Time{}, started: map[string]time.Time{}}
	h.observe(failed)
	if got := h.failing[string(peer.ID)]; !got.Equal(old) {
		t.Fatalf("last contact %v, want %v", got, old)
	}
}
