package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
)

// unregisteredEvent is an event type no build registers.
type unregisteredEvent struct {
	Name string `json:"name"`
}

func (unregisteredEvent) EventType() string { return "test.unregistered" }

var testMeta = events.Meta{
	Time:          time.Date(2025, 3, 14, 10, 26, 53, 0, time.FixedZone("CET", 3600)),
	OriginNode:    "node-1",
	Actor:         goldenUserID,
	CorrelationID: "req-7f3a",
}

// validEnvelope returns a well-formed appointment.deleted envelope on
// appointment stream id at version.
func validEnvelope(tb testing.TB, id string, stream string, version int64) events.Envelope {
	tb.Helper()
	env, err := events.New(id, stream, version, events.AppointmentDeleted{AppointmentID: goldenApptID}, testMeta)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return env
}

// requireErrorIs fails unless err matches want; a nil want demands no error.
func requireErrorIs(tb testing.TB, err, want error) {
	tb.Helper()
	switch {
	case want == nil && err != nil:
		tb.Fatalf("got error %v, want none", err)
	case want != nil && err == nil:
		tb.Fatalf("got no error, want %v", want)
	case want != nil && !errors.Is(err, want):
		tb.Fatalf("got error %v, want one wrapping %v", err, want)
	}
}

func TestNew(t *testing.T) {
	created := events.AppointmentCreated{
		AppointmentID: goldenApptID,
		OwnerID:       goldenUserID,
		Title:         "1:1",
		Start:         time.Date(2025, 3, 20, 13, 0, 0, 0, time.UTC),
		End:           time.Date(2025, 3, 20, 13, 30, 0, 0, time.UTC),
		Privacy:       "full",
		Status:        "confirmed",
	}
	withParticipants := created
	withParticipants.Participants = []events.Invitee{{UserID: goldenInviteeID, Status: "pending"}}
	// An appointment without participants is written at schema version 1,
	// which every build reads; only one with participants needs version 2.
	tests := []struct {
		name       string
		event      events.Event
		wantSchema int
		wantErr    error
	}{
		{name: "registered type", event: created, wantSchema: 1},
		{name: "registered type behind a pointer", event: &created, wantSchema: 1},
		{name: "a version only some of its events need", event: withParticipants, wantSchema: 2},
		{name: "unknown type", event: unregisteredEvent{Name: "x"}, wantErr: events.ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := events.New("evt-1", events.AppointmentStream(goldenApptID), 1, tt.event, testMeta)
			requireErrorIs(t, err, tt.wantErr)
			if tt.wantErr != nil {
				if !reflect.DeepEqual(env, events.Envelope{}) {
					t.Errorf("got envelope %+v with error, want zero envelope", env)
				}
				return
			}
			want := events.Envelope{
				ID:            "evt-1",
				Stream:        events.AppointmentStream(goldenApptID),
				Version:       1,
				Type:          "appointment.created",
				SchemaVersion: tt.wantSchema,
				Time:          testMeta.Time.UTC(),
				OriginNode:    testMeta.OriginNode,
				Actor:         testMeta.Actor,
				CorrelationID: testMeta.CorrelationID,
			}
			data := env.Data
			env.Data = nil
			if !reflect.DeepEqual(env, want) {
				t.Fatalf("got envelope\n%+v\nwant\n%+v", env, want)
			}
			if env.Time.Location() != time.UTC {
				t.Errorf("got time in %s, want UTC", env.Time.Location())
			}
			env.Data = data
			if ev, err := env.DecodeWith(json.Unmarshal); err != nil || !reflect.DeepEqual(ev, reflect.Indirect(reflect.ValueOf(tt.event)).Interface()) {
				t.Errorf("DecodeWith = %#v, %v; want the event written", ev, err)
			}
			wantData, err := json.Marshal(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != string(wantData) {
				t.Errorf("got data %s, want %s", data, wantData)
			}
		})
	}
}

func TestEnvelopeValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*events.Envelope)
		wantErr error
		wantMsg string
	}{
		{name: "valid", mutate: func(*events.Envelope) {}},
		{name: "missing id", mutate: func(e *events.Envelope) { e.ID = "" }, wantErr: events.ErrMalformed, wantMsg: "missing id"},
		{name: "missing stream", mutate: func(e *events.Envelope) { e.Stream = "" }, wantErr: events.ErrMalformed, wantMsg: "missing stream"},
		{name: "version zero", mutate: func(e *events.Envelope) { e.Version = 0 }, wantErr: events.ErrMalformed, wantMsg: "version 0 < 1"},
		{name: "negative version", mutate: func(e *events.Envelope) { e.Version = -3 }, wantErr: events.ErrMalformed, wantMsg: "version -3 < 1"},
		{name: "missing type", mutate: func(e *events.Envelope) { e.Type = "" }, wantErr: events.ErrMalformed, wantMsg: "missing type"},
		{name: "missing time", mutate: func(e *events.Envelope) { e.Time = time.Time{} }, wantErr: events.ErrMalformed, wantMsg: "missing time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnvelope(t, "evt-1", events.AppointmentStream(goldenApptID), 2)
			tt.mutate(&env)
			err := env.Validate()
			requireErrorIs(t, err, tt.wantErr)
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got error %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestEnvelopeDecode(t *testing.T) {
	const okData = `{"user_id":"u-1","appointment_id":"a-1"}`
	tests := []struct {
		name          string
		typ           string
		schemaVersion int
		data          string
		wantErr       error
	}{
		{name: "valid", typ: "agenda.entry_removed", schemaVersion: 1, data: okData},
		{name: "valid with surrounding whitespace", typ: "agenda.entry_removed", schemaVersion: 1, data: " \n" + okData + "\n "},
		{name: "unknown type", typ: "agenda.entry_exploded", schemaVersion: 1, data: okData, wantErr: events.ErrUnknownType},
		{name: "empty type", typ: "", schemaVersion: 1, data: okData, wantErr: events.ErrUnknownType},
		{name: "unknown schema version", typ: "agenda.entry_removed", schemaVersion: 99, data: okData, wantErr: events.ErrUnknownType},
		{name: "schema version zero", typ: "agenda.entry_removed", schemaVersion: 0, data: okData, wantErr: events.ErrUnknownType},
		{name: "malformed data", typ: "agenda.entry_removed", schemaVersion: 1, data: `{"user_id":`, wantErr: events.ErrMalformed},
		{name: "data not an object", typ: "agenda.entry_removed", schemaVersion: 1, data: `["u-1","a-1"]`, wantErr: events.ErrMalformed},
		{name: "field of wrong type", typ: "agenda.entry_rescheduled", schemaVersion: 1, data: `{"user_id":"u-1","start":1742475600}`, wantErr: events.ErrMalformed},
		{name: "time not RFC 3339", typ: "agenda.entry_rescheduled", schemaVersion: 1, data: `{"user_id":"u-1","start":"20/03/2025 13:00"}`, wantErr: events.ErrMalformed},
		{name: "missing data", typ: "agenda.entry_removed", schemaVersion: 1, data: "", wantErr: events.ErrMalformed},
		{name: "unknown field in data", typ: "agenda.entry_removed", schemaVersion: 1, data: `{"user_id":"u-1","appointment_id":"a-1","reason":"spam"}`, wantErr: events.ErrMalformed},
		{name: "trailing object", typ: "agenda.entry_removed", schemaVersion: 1, data: okData + `{"user_id":"u-2"}`, wantErr: events.ErrMalformed},
		{name: "trailing garbage", typ: "agenda.entry_removed", schemaVersion: 1, data: okData + ` x`, wantErr: events.ErrMalformed},
		{name: "trailing number", typ: "agenda.entry_removed", schemaVersion: 1, data: okData + ` 7`, wantErr: events.ErrMalformed},
		{
			name: "trailing closing brace", typ: "agenda.entry_removed", schemaVersion: 1, data: okData + `}`, wantErr: events.ErrMalformed,
		},
		{
			name: "trailing closing bracket", typ: "agenda.entry_removed", schemaVersion: 1, data: okData + `]`, wantErr: events.ErrMalformed,
		},
		{
			name: "null data", typ: "agenda.entry_removed", schemaVersion: 1, data: `null`, wantErr: events.ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := events.Envelope{
				ID:            "evt-1",
				Stream:        events.ScheduleStream("u-1"),
				Version:       1,
				Type:          tt.typ,
				SchemaVersion: tt.schemaVersion,
				Time:          testMeta.Time,
				Data:          json.RawMessage(tt.data),
			}
			ev, err := env.Decode()
			requireErrorIs(t, err, tt.wantErr)
			if tt.wantErr != nil {
				if ev != nil {
					t.Fatalf("got event %#v with error, want nil", ev)
				}
				if errors.Is(err, events.ErrMalformed) && errors.Is(err, events.ErrUnknownType) {
					t.Fatalf("error %v wraps both ErrMalformed and ErrUnknownType", err)
				}
				return
			}
			if got := ev.EventType(); got != tt.typ {
				t.Fatalf("got %T with EventType %q, want %q", ev, got, tt.typ)
			}
		})
	}
}

// TestEnvelopeDecodeValue checks Decode fills the typed event, not just that
// it returns no error.
func TestEnvelopeDecodeValue(t *testing.T) {
	want := events.AgendaEntryAdded{
		UserID:        goldenInviteeID,
		AppointmentID: goldenApptID,
		Start:         time.Date(2025, 3, 20, 13, 0, 0, 0, time.UTC),
		End:           time.Date(2025, 3, 20, 14, 30, 0, 0, time.UTC),
		Role:          "accepted",
	}
	env, err := events.New("evt-1", events.ScheduleStream(goldenInviteeID), 4, want, testMeta)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	got, err := env.Decode()
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

// TestDecodeWithTriesTheFastDecoderOnPastVersions: an event written at a
// past schema version (every personal appointment.created) takes the fast
// decoder too, not only the strict one: the write path and a rebuild of an
// old log decode such events all the time.
func TestDecodeWithTriesTheFastDecoderOnPastVersions(t *testing.T) {
	created := events.AppointmentCreated{AppointmentID: goldenApptID, OwnerID: goldenUserID, Title: "1:1",
		Start: time.Date(2025, 3, 20, 13, 0, 0, 0, time.UTC), End: time.Date(2025, 3, 20, 13, 30, 0, 0, time.UTC),
		Privacy: "full", Status: "confirmed"}
	env, err := events.New("evt-1", events.AppointmentStream(goldenApptID), 1, created, testMeta)
	if err != nil || env.SchemaVersion != 1 {
		t.Fatalf("New = schema version %d, %v; want 1", env.SchemaVersion, err)
	}
	calls := 0
	ev, err := env.DecodeWith(func(data []byte, v any) error { calls++; return json.Unmarshal(data, v) })
	if err != nil || !reflect.DeepEqual(ev, created) || calls != 1 {
		t.Fatalf("DecodeWith = %#v, %v after %d calls of the fast decoder; want the event after 1", ev, err, calls)
	}
	// A field version 1 did not have is still refused, by both paths.
	env.Data = []byte(`{"appointment_id":"a","owner_id":"o","group_id":"","title":"t","description":"","location":"",` +
		`"start":"2025-03-20T13:00:00Z","end":"2025-03-20T14:00:00Z","privacy":"full","status":"confirmed",` +
		`"participants":[{"user_id":"u","status":"pending"}]}`)
	if _, err := env.DecodeWith(fastStrict); !errors.Is(err, events.ErrMalformed) {
		t.Errorf("DecodeWith of version 1 with participants = %v, want ErrMalformed", err)
	}
}

// fastStrict stands for a fast decoder that refuses unknown fields.
func fastStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
