// Package agenda holds the vocabulary every layer of the service shares: the
// error codes clients see and the small domain constants (privacy levels,
// participation statuses) that commands, projections and the HTTP layer must
// agree on. Like the events package it imports nothing but the standard
// library, so any package may depend on it.
package agenda
