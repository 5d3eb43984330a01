// Package eventstore is Agenda's append-only log of committed domain events,
// kept in its own SQLite file. Only the Raft state machine writes to it, one
// transaction per batch of committed entries; everything else reads it.
//
// The store enforces the log's invariants itself (expected stream versions,
// unique event IDs, dense global positions, no UPDATE or DELETE) so that a bug
// elsewhere cannot corrupt history. It also records the Raft index it has
// applied, in the same transaction as the events, which is what makes
// applying the log exactly-once across restarts.
//
// Rows are stored in a compact encoding that reads back exactly what was
// appended (codec.go); a store in an earlier schema is migrated when it is
// opened (migrate.go).
package eventstore
