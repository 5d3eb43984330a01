package consensus

import "time"

// Hooks let the node's owner observe Raft work (metrics, the audit trail)
// without consensus knowing of either. Each is optional and must not block:
// it runs on Raft's own goroutines.
type Hooks struct {
	// Apply is told how long each local proposal took, from raft.Apply to
	// the FSM's answer (commit and apply), and how it ended.
	Apply func(took time.Duration, err error)
	// Snapshot is told of each snapshot this node writes: the Raft index it
	// covers, how long writing it took, and whether it failed.
	Snapshot func(index uint64, took time.Duration, err error)
}
