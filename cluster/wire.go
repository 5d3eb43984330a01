package cluster

import (
	"errors"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

// wireError carries an error across a forwarded request faithfully enough
// that the caller's errors.Is/errors.As checks behave as if the call had been
// local.
type wireError struct {
	Kind     string         `json:"kind"`
	Code     string         `json:"code,omitempty"`
	Message  string         `json:"message,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
	Stream   string         `json:"stream,omitempty"`
	Expected int64          `json:"expected,omitempty"`
	Actual   int64          `json:"actual,omitempty"`
	Position int64          `json:"position,omitempty"`
	EventID  string         `json:"event_id,omitempty"`
	// Level, Type and SchemaVersion are an AboveLevelError's.
	Level         int    `json:"level,omitempty"`
	Type          string `json:"type,omitempty"`
	SchemaVersion int    `json:"schema_version,omitempty"`
}

// Error kinds on the wire.
const (
	kindVersionConflict = "version_conflict"
	kindDuplicate       = "duplicate"
	kindOutcomeUnknown  = "outcome_unknown"
	kindNotLeader       = "not_leader"
	kindNoLeader        = "no_leader"
	kindShutdown        = "shutdown"
	kindMalformed       = "malformed"
	kindUnknownType     = "unknown_type"
	kindIllegal         = "illegal_transition"
	kindTooLarge        = "too_large"
	kindAboveLevel      = "above_level"
	kindAgenda          = "agenda"
	kindInternal        = "internal"
)

func encodeError(err error) wireError {
	var vc *events.VersionConflictError
	var dup *events.DuplicateEventError
	var al *events.AboveLevelError
	var ae *agenda.Error
	switch {
	case errors.As(err, &vc):
		return wireError{Kind: kindVersionConflict, Stream: vc.Stream, Expected: vc.Expected, Actual: vc.Actual, Position: vc.Position}
	case errors.As(err, &dup):
		return wireError{Kind: kindDuplicate, EventID: dup.EventID, Position: dup.Position}
	case errors.As(err, &al):
		// Message for followers that know no such kind.
		return wireError{Kind: kindAboveLevel, Level: al.Level, Type: al.Type, SchemaVersion: al.SchemaVersion, Message: al.Error()}
	case errors.Is(err, events.ErrOutcomeUnknown):
		return wireError{Kind: kindOutcomeUnknown}
	case errors.Is(err, consensus.ErrNotLeader):
		return wireError{Kind: kindNotLeader}
	case errors.Is(err, consensus.ErrNoLeader):
		return wireError{Kind: kindNoLeader}
	case errors.Is(err, consensus.ErrShutdown):
		return wireError{Kind: kindShutdown}
	case errors.Is(err, events.ErrMalformed):
		return wireError{Kind: kindMalformed, Message: err.Error()}
	case errors.Is(err, events.ErrUnknownType):
		return wireError{Kind: kindUnknownType, Message: err.Error()}
	case errors.Is(err, events.ErrIllegalTransition):
		return wireError{Kind: kindIllegal, Message: err.Error()}
	case errors.Is(err, events.ErrBatchTooLarge):
		// A follower checks first: only a leader with a smaller limit
		// (another build) refuses what its follower sent.
		return wireError{Kind: kindTooLarge, Message: err.Error()}
	case errors.As(err, &ae):
		return wireError{Kind: kindAgenda, Code: ae.Code, Message: ae.Message, Details: ae.Details}
	}
	return wireError{Kind: kindInternal, Message: err.Error()}
}

// errRemote marks an internal error raised on another node.
type errRemote struct{ msg string }

func (e errRemote) Error() string { return "on the leader: " + e.msg }

func (w wireError) err() error {
	switch w.Kind {
	case kindVersionConflict:
		return &events.VersionConflictError{Stream: w.Stream, Expected: w.Expected, Actual: w.Actual, Position: w.Position}
	case kindDuplicate:
		return &events.DuplicateEventError{EventID: w.EventID, Position: w.Position}
	case kindAboveLevel:
		return &events.AboveLevelError{Level: w.Level, Type: w.Type, SchemaVersion: w.SchemaVersion}
	case kindOutcomeUnknown:
		return events.ErrOutcomeUnknown
	case kindNotLeader:
		return consensus.ErrNotLeader
	case kindNoLeader:
		return consensus.ErrNoLeader
	case kindShutdown:
		return consensus.ErrShutdown
	case kindMalformed:
		return errors.Join(events.ErrMalformed, errRemote{w.Message})
	case kindUnknownType:
		return errors.Join(events.ErrUnknownType, errRemote{w.Message})
	case kindIllegal:
		return errors.Join(events.ErrIllegalTransition, errRemote{w.Message})
	case kindTooLarge:
		return errors.Join(events.ErrBatchTooLarge, errRemote{w.Message})
	case kindAgenda:
		return &agenda.Error{Code: w.Code, Message: w.Message, Details: w.Details}
	}
	return errRemote{w.Message}
}
