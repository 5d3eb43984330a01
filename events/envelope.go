package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Envelope is one event as it travels through the log and sits in the event
// store. Everything but Position is fixed by the command side before the
// event is proposed; Position is assigned by the state machine when the event
// is committed, so it is the same on every replica.
type Envelope struct {
	ID            string          `json:"id"`
	Stream        string          `json:"stream"`
	Version       int64           `json:"version"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Time          time.Time       `json:"time"`
	OriginNode    string          `json:"origin_node"`
	Position      int64           `json:"position"`
	Actor         string          `json:"actor"`
	CorrelationID string          `json:"correlation_id"`
	Data          json.RawMessage `json:"data"`
}

// Meta is what a command knows about the circumstances of its events.
type Meta struct {
	Time          time.Time
	OriginNode    string
	Actor         string
	CorrelationID string
}

// Event is a typed domain event.
type Event interface {
	// EventType returns the registered type name, e.g. "appointment.created".
	EventType() string
}

// New wraps e in an envelope for stream at version, with the current schema
// version of its type (or the oldest that holds e, see olderSchema). id
// must be unique across the whole log.
func New(id, stream string, version int64, e Event, m Meta) (Envelope, error) {
	t, ok := lookupType(e.EventType())
	if !ok {
		return Envelope{}, fmt.Errorf("new event: %w: %q", ErrUnknownType, e.EventType())
	}
	data, err := json.Marshal(e)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	schema := t.current
	if o, ok := e.(olderSchema); ok {
		schema = o.schemaVersion()
	}
	return Envelope{
		ID:            id,
		Stream:        stream,
		Version:       version,
		Type:          e.EventType(),
		SchemaVersion: schema,
		Time:          m.Time.UTC(),
		OriginNode:    m.OriginNode,
		Actor:         m.Actor,
		CorrelationID: m.CorrelationID,
		Data:          data,
	}, nil
}

// Validate checks the fields every envelope must have.
func (e *Envelope) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: missing id", ErrMalformed)
	case e.Stream == "":
		return fmt.Errorf("%w: event %s: missing stream", ErrMalformed, e.ID)
	case e.Version < 1:
		return fmt.Errorf("%w: event %s: version %d < 1", ErrMalformed, e.ID, e.Version)
	case e.Type == "":
		return fmt.Errorf("%w: event %s: missing type", ErrMalformed, e.ID)
	case e.SchemaVersion < 1:
		return fmt.Errorf("%w: event %s: schema version %d < 1", ErrMalformed, e.ID, e.SchemaVersion)
	case e.Time.IsZero():
		return fmt.Errorf("%w: event %s: missing time", ErrMalformed, e.ID)
	case len(e.Data) == 0:
		return fmt.Errorf("%w: event %s: missing data", ErrMalformed, e.ID)
	case !json.Valid(e.Data):
		return fmt.Errorf("%w: event %s: data is not JSON", ErrMalformed, e.ID)
	case !isCompact(e.Data):
		// Data is stored and replicated byte for byte; one canonical
		// (compact, as New writes it) form keeps every copy identical.
		return fmt.Errorf("%w: event %s: data is not compact JSON", ErrMalformed, e.ID)
	}
	return nil
}

// isCompact reports whether valid JSON data is as json.Compact writes it:
// no insignificant whitespace. Raw tabs and line breaks cannot be inside a
// valid string, so any of them is outside one; a space is insignificant
// outside a string. Scanning for them answers as comparing with
// json.Compact's output did (FuzzIsCompact), without copying the data on
// every event of every proposal and entry.
func isCompact(data []byte) bool {
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\t' || c == '\n' || c == '\r':
			return false
		case inString && c == '\\':
			i++ // the escaped byte cannot end the string
		case c == '"':
			inString = !inString
		case c == ' ' && !inString:
			return false
		}
	}
	return true
}

// Decode returns the typed event in the envelope, upcast to the current
// schema version. It fails with ErrUnknownType for a type or schema version
// this build does not know, and with ErrMalformed for undecodable data.
func (e *Envelope) Decode() (Event, error) {
	t, ok := lookupType(e.Type)
	if !ok {
		return nil, fmt.Errorf("decode event %s: %w: %q", e.ID, ErrUnknownType, e.Type)
	}
	dec, ok := t.decoders[e.SchemaVersion]
	if !ok {
		return nil, fmt.Errorf("decode event %s: %w: %q schema version %d", e.ID, ErrUnknownType, e.Type, e.SchemaVersion)
	}
	ev, err := dec(e.Data)
	if err != nil {
		return nil, fmt.Errorf("decode event %s (%s v%d): %w: %v", e.ID, e.Type, e.SchemaVersion, ErrMalformed, err)
	}
	return ev, nil
}

// DecodeWith is Decode with another JSON decoder tried first, for every
// schema version the type registers (the write path and the projections use a faster
// one; this package keeps to the standard library). Data that decoder
// refuses takes the strict path, which gives the verdict. So DecodeWith
// reads what Decode reads, and refuses what it refuses, as long as the
// decoder given refuses whatever encoding/json with DisallowUnknownFields
// would refuse or read differently (unknown, duplicate or differently
// cased names, trailing data): the state machine relies on it, since every
// replica, whatever its build, must reach the same verdict on an entry.
// With encoding/json's lenient Unmarshal it is only right for data that
// Decode accepted before.
func (e *Envelope) DecodeWith(unmarshal func(data []byte, v any) error) (Event, error) {
	t, ok := lookupType(e.Type)
	if !ok {
		return e.Decode()
	}
	fast, ok := t.fast[e.SchemaVersion]
	if !ok {
		return e.Decode()
	}
	// Decode refuses anything but an object (null, say, which a decoder
	// would read as the zero event); the fast path never sees it.
	if len(e.Data) > 0 && e.Data[0] == '{' {
		if ev, err := fast(e.Data, unmarshal); err == nil {
			return ev, nil
		}
	}
	return e.Decode()
}
