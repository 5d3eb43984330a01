package consensus

import "github.com/agendahq/agenda"

// Raft-level failures. They carry the EUNAVAILABLE code: the client may retry
// the same request shortly. (A lost leadership mid-commit is reported as
// events.ErrOutcomeUnknown instead, since the batch may have committed.)
var (
	// ErrNotLeader is returned by Propose on a node that is not the leader.
	ErrNotLeader = &agenda.Error{Code: agenda.EUNAVAILABLE, Message: "this node is not the leader; retry shortly"}
	// ErrNoLeader is returned when no leader is known within the wait.
	ErrNoLeader = &agenda.Error{Code: agenda.EUNAVAILABLE, Message: "no leader is known; retry shortly"}
	// ErrShutdown is returned once the node is shutting down.
	ErrShutdown = &agenda.Error{Code: agenda.EUNAVAILABLE, Message: "node is shutting down"}
)
