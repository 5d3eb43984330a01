package events

import (
	"errors"
	"fmt"
)

// ErrUnknownType means an event's type or schema version is not registered
// in this build. A replica that meets one must stop rather than skip it.
var ErrUnknownType = errors.New("unknown event type")

// ErrMalformed means an envelope or its data cannot be decoded.
var ErrMalformed = errors.New("malformed event")

// VersionConflictError is returned when a batch expected a stream to be at a
// version it is not at. Position is the global position of the stream's last
// event, so a caller can wait for its read model to reach it and retry.
type VersionConflictError struct {
	Stream   string
	Expected int64
	Actual   int64
	Position int64
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("stream %s: expected version %d, at %d", e.Stream, e.Expected, e.Actual)
}

// DuplicateEventError is returned when a batch carries an event ID that is
// already in the log. When every event of a retried batch is a duplicate the
// batch was committed before; Position is the position of the event found.
type DuplicateEventError struct {
	EventID  string
	Position int64
}

func (e *DuplicateEventError) Error() string {
	return fmt.Sprintf("event %s already committed at position %d", e.EventID, e.Position)
}

// ErrOutcomeUnknown means a batch was handed to the log but leadership was
// lost before its fate was known: it may or may not have committed.
// Proposing the very same batch again is safe, because its event IDs make a
// second commit fail with a DuplicateEventError.
var ErrOutcomeUnknown = errors.New("outcome unknown: leadership lost while committing")

// MaxBatchBytes bounds a batch as it is proposed (its JSON encoding): one
// Raft entry, forwarded from a follower in one request. The log store
// (raft-wal) writes any entry but refuses to read one over 64 MiB as
// corrupt, so that an unbounded batch could commit and then keep its
// nodes from starting again; and a follower forwarded at most 8 MiB, so
// that a large batch committed on the leader and failed on a follower.
// 48 MiB (about 115,000 events) leaves the log store a margin: the largest
// batches remove an organiser from a group, cancelling each of their
// appointments to come for every participant (a review's 10,001 in a
// 3-member group were 40,005 events, 17 MiB).
const MaxBatchBytes = 48 << 20

// ErrBatchTooLarge refuses, before it is proposed and alike on every node,
// a batch whose encoding exceeds MaxBatchBytes.
var ErrBatchTooLarge = errors.New("batch too large for one log entry")

// CheckBatchSize refuses b if its encoding, of encoded bytes, exceeds
// MaxBatchBytes: the one check the leader's proposal and a follower's
// forwarding both make, on the same bytes.
func CheckBatchSize(b Batch, encoded int) error {
	if encoded > MaxBatchBytes {
		return fmt.Errorf("%w: %d events in %d bytes, at most %d", ErrBatchTooLarge, len(b.Events), encoded, MaxBatchBytes)
	}
	return nil
}
