package consensus

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Snapshot pacing: unless the operator fixes SnapshotThreshold, a node
// takes its next snapshot once a sixteenth of its log's index has been
// written since the last one, and never before defaultSnapshotThreshold
// entries.
//
// Each snapshot starts with a copy of the history the one before it
// compressed (eventstore's snapshot cache, see "Snapshots" in DESIGN.md),
// so its cost grows with the history while the events it adds do not.
// Taken every 16,384 entries whatever the history, the copies took a
// growing share of every write: with 10⁶ appointments stored, 159 MB was
// copied every 16,384 creates, 3–9 % of a create's CPU, and a node ten
// times larger would have spent more on copies than on the creates.
// Spacing snapshots in proportion to the history bounds what each entry
// pays for copies: sixteen times what an entry adds to the history, some
// 2.7 KB for a create. The price is a log that grows with the history
// too: at most TrailingLogs + index/16 entries between two compactions,
// about 73,000 entries (95 MB, 0.1 KB an appointment) at 10⁶ creates.
// hashicorp/raft-wal reads the log through the kernel's page cache, so a
// longer log costs disk, not resident memory.
//
// The Raft index stands for the history's size, which it is but for a
// cluster founded on a restored event store: that starts near index 0
// with the whole history, and is paced from the floor, as every node was
// before, until its index catches up. The hook paces from the store's
// applied index, which trails Raft's snapshot index by the barriers
// between them: a few entries, nothing that matters here.
const (
	defaultSnapshotThreshold = 16384
	snapshotHistoryShare     = 16
)

// snapshotPacer sets Raft's snapshot threshold from the index of each
// snapshot the node writes, and serialises every change this package makes
// to Raft's reloadable configuration: hashicorp/raft's ReloadableConfig
// and ReloadConfig are a read-modify-write that would otherwise lose one
// of two concurrent changes.
type snapshotPacer struct {
	// floor is the least threshold; 0 when the operator fixed it, and the
	// pacer then leaves the threshold alone.
	floor uint64
	raft  atomic.Pointer[raft.Raft]

	mu sync.Mutex
}

// pacedThreshold is the snapshot threshold after a snapshot at index.
func pacedThreshold(floor, index uint64) uint64 {
	return max(floor, index/snapshotHistoryShare)
}

// start hands the pacer the running Raft.
func (p *snapshotPacer) start(r *raft.Raft) { p.raft.Store(r) }

// reload changes Raft's reloadable configuration with change, under the
// pacer's lock. It does nothing before start.
func (p *snapshotPacer) reload(change func(*raft.ReloadableConfig)) error {
	r := p.raft.Load()
	if r == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rc := r.ReloadableConfig()
	before := rc
	change(&rc)
	if rc == before {
		return nil
	}
	return r.ReloadConfig(rc)
}

// wrap returns the FSM's snapshot hook: it paces the threshold after each
// snapshot written, then calls the owner's hook (Hooks.Snapshot), if any.
// Raft runs it on its snapshot goroutine, after the snapshot is written and
// before the log is compacted behind it.
func (p *snapshotPacer) wrap(owner func(index uint64, took time.Duration, err error)) func(uint64, time.Duration, error) {
	return func(index uint64, took time.Duration, err error) {
		if err == nil && p.floor > 0 {
			// A failure leaves the threshold as it was: the snapshot is
			// written, and the next one paces again.
			_ = p.reload(func(rc *raft.ReloadableConfig) {
				rc.SnapshotThreshold = pacedThreshold(p.floor, index)
			})
		}
		if owner != nil {
			owner(index, took, err)
		}
	}
}
