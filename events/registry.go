package events

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
)

// decoder turns the data of one schema version into the current typed event.
type decoder func(data []byte) (Event, error)

type eventType struct {
	current  int
	decoders map[int]decoder
	// fast decodes each schema version with the given JSON decoder,
	// without the strict checks; see Envelope.DecodeWith.
	fast map[int]fastDecoder
}

type fastDecoder func(data []byte, unmarshal func([]byte, any) error) (Event, error)

// olderSchema is implemented by an event type whose events are written at
// the oldest schema version that holds them, so that a build which knows
// only that version still replays them: AppointmentCreated is written at
// version 1 unless it carries participants.
type olderSchema interface{ schemaVersion() int }

// registry maps each event type to its decoders. It is filled once, in
// init, and only read afterwards.
var registry = map[string]*eventType{}

// register adds a type whose current schema version is current and whose
// current shape is T. When a type's shape changes, its current version is
// bumped and the old version keeps a decoder that upcasts old data to T; a
// golden fixture per version (testdata/) keeps old events readable.
func register[T Event](typ string, current int) {
	t := &eventType{current: current, decoders: map[int]decoder{}, fast: map[int]fastDecoder{}}
	registry[typ] = t
	t.decoders[current], t.fast[current] = decodersOf(func(v T) T { return v })
}

// registerPast keeps schema version v of typ readable once its current
// version has moved on: Old is the shape v had, and upcast turns it into
// the current shape. Call it after register.
func registerPast[Old any, T Event](typ string, v int, upcast func(Old) T) {
	t := registry[typ]
	t.decoders[v], t.fast[v] = decodersOf(upcast)
}

// decodersOf returns the strict and the fast decoder of data of shape S,
// which conv turns into the event.
func decodersOf[S any, T Event](conv func(S) T) (decoder, fastDecoder) {
	strict := func(data []byte) (Event, error) {
		var v S
		if err := decodeStrict(data, &v); err != nil {
			return nil, err
		}
		return conv(v), nil
	}
	fast := func(data []byte, unmarshal func([]byte, any) error) (Event, error) {
		var v S
		if err := unmarshal(data, &v); err != nil {
			return nil, err
		}
		return conv(v), nil
	}
	return strict, fast
}

func lookupType(typ string) (*eventType, bool) {
	t, ok := registry[typ]
	return t, ok
}

// Types returns every registered type with its schema versions, sorted;
// tests use it to demand a golden fixture for each.
func Types() map[string][]int {
	out := make(map[string][]int, len(registry))
	for name, t := range registry {
		for v := range t.decoders {
			out[name] = append(out[name], v)
		}
		sort.Ints(out[name])
	}
	return out
}

// decodeStrict decodes JSON refusing unknown fields and trailing data: an
// event this build only half understands is as dangerous as an unknown one.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' {
		return jsonError("event data must be a JSON object")
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

var errTrailing = jsonError("trailing data after event")

type jsonError string

func (e jsonError) Error() string { return string(e) }
