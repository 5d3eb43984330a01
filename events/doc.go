// Package events defines the domain events of Agenda and the envelope that
// carries them through the Raft log, the event store and the projectors.
//
// It is the leaf of the module: it imports only the standard library. Every
// other package agrees on the meaning of the log through it, so its JSON
// encoding is stable (golden fixtures under testdata/ pin it) and decoding is
// strict: an unknown type or schema version is an error, never a guess,
// because a replica that silently skipped an event would diverge.
package events
