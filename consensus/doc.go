// Package consensus replicates Agenda's event log with hashicorp/raft.
//
// Commands propose an events.Batch; the leader appends it to the Raft log;
// once committed, every replica's FSM applies it to its event store in log
// order. The FSM is deterministic (it reads nothing but the entry and the
// store, and calls neither the clock nor a random source), so every replica
// ends with the same event store. See DESIGN.md.
package consensus
