package events_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agendahq/agenda/events"
)

func TestBatchValidate(t *testing.T) {
	appt := events.AppointmentStream(goldenApptID)
	agenda := events.ScheduleStream(goldenUserID)
	user := events.UserStream(goldenUserID)
	name := events.UsernameStream(goldenUsername)
	expect := func(stream string, version int64) events.Expectation {
		return events.Expectation{Stream: stream, Version: version}
	}
	// ev builds a valid envelope; its ID is made of stream and version.
	ev := func(stream string, version int64) events.Envelope {
		return validEnvelope(t, fmt.Sprintf("%s@%d", stream, version), stream, version)
	}

	tests := []struct {
		name    string
		batch   events.Batch
		wantErr string // empty: the batch is valid
	}{
		{
			name:    "empty batch",
			batch:   events.Batch{Expect: []events.Expectation{expect(appt, 0)}},
			wantErr: "empty batch",
		},
		{
			name:  "one event on a new stream",
			batch: events.Batch{Events: []events.Envelope{ev(appt, 1)}, Expect: []events.Expectation{expect(appt, 0)}},
		},
		{
			name: "duplicate event id",
			batch: events.Batch{
				Events: []events.Envelope{ev(appt, 1), func() events.Envelope { e := ev(appt, 2); e.ID = ev(appt, 1).ID; return e }()},
				Expect: []events.Expectation{expect(appt, 0)},
			},
			wantErr: "twice in batch",
		},
		{
			name: "duplicate event id across streams",
			batch: events.Batch{
				Events: []events.Envelope{ev(appt, 1), func() events.Envelope { e := ev(agenda, 4); e.ID = ev(appt, 1).ID; return e }()},
				Expect: []events.Expectation{expect(appt, 0), expect(agenda, 3)},
			},
			wantErr: "twice in batch",
		},
		{
			name:    "stream written without expectation",
			batch:   events.Batch{Events: []events.Envelope{ev(appt, 1)}},
			wantErr: "written without an expected version",
		},
		{
			name: "second stream written without expectation",
			batch: events.Batch{
				Events: []events.Envelope{ev(appt, 1), ev(agenda, 4)},
				Expect: []events.Expectation{expect(appt, 0)},
			},
			wantErr: "written without an expected version",
		},
		{
			name:    "version gap after expectation",
			batch:   events.Batch{Events: []events.Envelope{ev(appt, 2)}, Expect: []events.Expectation{expect(appt, 0)}},
			wantErr: "has version 2, want 1",
		},
		{
			name:    "version gap inside the batch",
			batch:   events.Batch{Events: []events.Envelope{ev(appt, 6), ev(appt, 8)}, Expect: []events.Expectation{expect(appt, 5)}},
			wantErr: "has version 8, want 7",
		},
		{
			name:    "first version repeats the expectation",
			batch:   events.Batch{Events: []events.Envelope{ev(appt, 5)}, Expect: []events.Expectation{expect(appt, 5)}},
			wantErr: "has version 5, want 6",
		},
		{
			name:    "versions out of order",
			batch:   events.Batch{Events: []events.Envelope{ev(appt, 7), ev(appt, 6)}, Expect: []events.Expectation{expect(appt, 5)}},
			wantErr: "has version 7, want 6",
		},
		{
			name:  "consecutive versions after expectation 0",
			batch: events.Batch{Events: []events.Envelope{ev(appt, 1), ev(appt, 2), ev(appt, 3)}, Expect: []events.Expectation{expect(appt, 0)}},
		},
		{
			name:  "consecutive versions after expectation 5",
			batch: events.Batch{Events: []events.Envelope{ev(appt, 6), ev(appt, 7)}, Expect: []events.Expectation{expect(appt, 5)}},
		},
		{
			name: "interleaved streams each consecutive",
			batch: events.Batch{
				Events: []events.Envelope{ev(user, 1), ev(name, 1), ev(user, 2)},
				Expect: []events.Expectation{expect(user, 0), expect(name, 0)},
			},
		},
		{
			name: "conflicting duplicate expectations",
			batch: events.Batch{
				Events: []events.Envelope{ev(appt, 1)},
				Expect: []events.Expectation{expect(appt, 0), expect(appt, 3)},
			},
			wantErr: "expected at 0 and 3",
		},
		{
			name: "conflicting expectations on a stream not written",
			batch: events.Batch{
				Events: []events.Envelope{ev(appt, 1)},
				Expect: []events.Expectation{expect(appt, 0), expect(agenda, 2), expect(agenda, 4)},
			},
			wantErr: "expected at 2 and 4",
		},
		{
			name: "identical duplicate expectations",
			batch: events.Batch{
				Events: []events.Envelope{ev(appt, 1)},
				Expect: []events.Expectation{expect(appt, 0), expect(appt, 0)},
			},
		},
		{
			name: "expectation on a stream not written",
			batch: events.Batch{
				Events: []events.Envelope{ev(appt, 1)},
				Expect: []events.Expectation{expect(appt, 0), expect(agenda, 7)},
			},
		},
		{
			name: "invalid event",
			batch: events.Batch{
				Events: []events.Envelope{func() events.Envelope { e := ev(appt, 1); e.Stream = ""; return e }()},
				Expect: []events.Expectation{expect(appt, 0)},
			},
			wantErr: "missing stream",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.batch.Validate()
			if tt.wantErr == "" {
				requireErrorIs(t, err, nil)
				return
			}
			requireErrorIs(t, err, events.ErrMalformed)
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %q, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}
