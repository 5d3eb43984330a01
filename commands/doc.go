// Package commands holds Agenda's write side: one handler per use case. A
// handler validates its input, checks permissions against the read model,
// fixes every ID and timestamp, and proposes events to the log together with
// the expected version of every stream it read. The log (package consensus)
// commits the batch only if those streams have not moved; otherwise the
// handler waits for its read model to catch up and decides again. That retry
// loop is what makes invariants such as "no overlapping appointments" hold
// under concurrency without locks.
package commands
