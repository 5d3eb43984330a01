package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
)

// FuzzDecodeEvent feeds arbitrary envelopes to Decode and Validate. Neither
// may panic, every error must carry one of the package's sentinels, and an
// event that decodes must survive a round trip through its own encoding.
func FuzzDecodeEvent(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	if len(fixtures) == 0 {
		f.Fatal("no golden fixtures in testdata/ to seed the corpus")
	}
	for _, path := range fixtures {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// A time with a numeric zero offset decodes into time.Local (or a fixed
	// zone) but re-encodes as "Z"; keep that case in the corpus.
	f.Add([]byte(`{"id":"e","stream":"agenda-u","version":1,"type":"agenda.entry_rescheduled","schema_version":1,"time":"2025-03-20T12:00:00+00:00",` +
		`"data":{"user_id":"u","appointment_id":"a","start":"2025-03-20T13:00:00+00:00","end":"2025-03-20T14:00:00-05:30"}}`))

	// An empty participants list at schema 2 is written again at schema 1,
	// without the list: the same appointment.
	f.Add([]byte(`{"id":"e","stream":"appointment-a","version":1,"type":"appointment.created","schema_version":2,"time":"2025-03-20T12:00:00Z",` +
		`"data":{"appointment_id":"a","owner_id":"o","group_id":"","title":"t","description":"","location":"",` +
		`"start":"2025-03-20T13:00:00Z","end":"2025-03-20T14:00:00Z","privacy":"full","status":"confirmed","participants":[]}}`))

	f.Fuzz(checkDecodeEvent)
}

func checkDecodeEvent(t *testing.T, raw []byte) {
	var env events.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return
	}
	if err := env.Validate(); err != nil && !errors.Is(err, events.ErrMalformed) {
		t.Fatalf("Validate: got error %v, want one wrapping ErrMalformed", err)
	}
	ev, err := env.Decode()
	if err != nil {
		if !errors.Is(err, events.ErrUnknownType) && !errors.Is(err, events.ErrMalformed) {
			t.Fatalf("Decode: got error %v, want one wrapping ErrUnknownType or ErrMalformed", err)
		}
		if ev != nil {
			t.Fatalf("Decode: got event %#v with error %v", ev, err)
		}
		return
	}
	if ev == nil {
		t.Fatal("Decode: got nil event and nil error")
	}
	if got := ev.EventType(); got != env.Type {
		t.Fatalf("Decode: got %T with EventType %q, want %q", ev, got, env.Type)
	}
	// The fast path reads the same event as the strict one.
	fast, err := env.DecodeWith(json.Unmarshal)
	if err != nil {
		t.Fatalf("DecodeWith(json.Unmarshal) refused what Decode read: %v", err)
	}
	if !reflect.DeepEqual(fast, ev) {
		t.Fatalf("DecodeWith(json.Unmarshal) read another event\n got: %#v\nwant: %#v", fast, ev)
	}

	// Re-encode at the current schema version, as a command would after
	// upcasting, and decode again.
	ev2, data2 := roundTrip(t, env, ev)
	if !sameEvent(ev2, ev) {
		t.Fatalf("round trip changed the event\n got: %#v\nwant: %#v\ndata: %s", ev2, ev, data2)
	}
	// The re-encoded form is canonical: a second round trip changes
	// nothing, not even a time's *Location.
	ev3, data3 := roundTrip(t, env, ev2)
	if !reflect.DeepEqual(ev3, ev2) {
		t.Fatalf("second round trip changed the event\n got: %#v\nwant: %#v", ev3, ev2)
	}
	if !bytes.Equal(data3, data2) {
		t.Fatalf("second round trip changed the encoding\n got: %s\nwant: %s", data3, data2)
	}
}

// roundTrip encodes ev with New, as a command would, and decodes it again.
func roundTrip(t *testing.T, env events.Envelope, ev events.Event) (events.Event, []byte) {
	t.Helper()
	again, err := events.New(env.ID, env.Stream, env.Version, ev, events.Meta{Time: env.Time})
	if err != nil {
		t.Fatalf("re-encode %#v: %v", ev, err)
	}
	got, err := again.Decode()
	if err != nil {
		t.Fatalf("decode re-encoded %s: %v", again.Data, err)
	}
	return got, again.Data
}

var timeType = reflect.TypeFor[time.Time]()

// sameEvent is reflect.DeepEqual except that times are equal when they
// denote the same instant with the same UTC offset, and an empty slice
// equals a nil one. JSON keeps only the
// offset, so "+00:00" decodes into time.Local or a fixed zone and comes back
// from "Z" as UTC: the same time, a different *Location.
func sameEvent(a, b events.Event) bool {
	return sameValue(reflect.ValueOf(a), reflect.ValueOf(b))
}

func sameValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch {
	case a.Type() == timeType:
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		_, oa := ta.Zone()
		_, ob := tb.Zone()
		return ta.Equal(tb) && oa == ob
	case a.Kind() == reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case a.Kind() == reflect.Slice:
		// JSON leaves an empty list out (omitempty): none and an empty
		// one are the same event.
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case a.Kind() == reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	default:
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
}
