package eventstore_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
)

func TestReadOrderLimitAfter(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 2), streamBatch(t, "b", 0, 3)) // positions 1..5

	tests := []struct {
		name  string
		after int64
		limit int
		want  []int64
	}{
		{name: "everything", after: 0, limit: 100, want: []int64{1, 2, 3, 4, 5}},
		{name: "limit smaller than the log", after: 0, limit: 2, want: []int64{1, 2}},
		{name: "after is exclusive", after: 2, limit: 100, want: []int64{3, 4, 5}},
		{name: "after and limit", after: 1, limit: 3, want: []int64{2, 3, 4}},
		{name: "after the second to last", after: 4, limit: 100, want: []int64{5}},
		{name: "after the head", after: 5, limit: 100, want: []int64{}},
		{name: "after beyond the head", after: 50, limit: 100, want: []int64{}},
		{name: "limit zero", after: 0, limit: 0, want: []int64{}},
		{name: "negative after reads from the start", after: -1, limit: 100, want: []int64{1, 2, 3, 4, 5}},
		// Read documents limit <= 0 as no events and no error (SQLite
		// would take a negative LIMIT as no limit at all).
		{name: "negative limit", after: 0, limit: -1, want: []int64{}},
		{name: "very negative limit after a position", after: 2, limit: -(1 << 30), want: []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Read(ctx, tt.after, tt.limit)
			if err != nil {
				t.Fatalf("Read(%d, %d): %v", tt.after, tt.limit, err)
			}
			if got := positions(got); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Read(%d, %d) positions: got %v, want %v", tt.after, tt.limit, got, tt.want)
			}
		})
	}

	// Paging by the last position seen visits every event once.
	var paged []int64
	for after := int64(0); ; {
		page, err := s.Read(ctx, after, 2)
		if err != nil {
			t.Fatalf("Read(%d, 2): %v", after, err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, positions(page)...)
		after = page[len(page)-1].Position
	}
	if want := []int64{1, 2, 3, 4, 5}; !reflect.DeepEqual(paged, want) {
		t.Fatalf("paged positions: got %v, want %v", paged, want)
	}
}

func TestReadStream(t *testing.T) {
	s := mustOpenStore(t)
	mustApply(t, s, 1,
		streamBatch(t, "a", 0, 1),
		streamBatch(t, "b", 0, 2),
		streamBatch(t, "a", 1, 2),
		streamBatch(t, "ab", 0, 1), // a prefix of another name is another stream
	)

	tests := []struct {
		stream      string
		wantIDs     []string
		wantPosList []int64
	}{
		{stream: "a", wantIDs: []string{"a@1", "a@2", "a@3"}, wantPosList: []int64{1, 4, 5}},
		{stream: "b", wantIDs: []string{"b@1", "b@2"}, wantPosList: []int64{2, 3}},
		{stream: "ab", wantIDs: []string{"ab@1"}, wantPosList: []int64{6}},
		{stream: "missing", wantIDs: []string{}, wantPosList: []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.stream, func(t *testing.T) {
			got := mustReadStream(t, s, tt.stream)
			if gotIDs := ids(got); !reflect.DeepEqual(gotIDs, tt.wantIDs) {
				t.Errorf("ids: got %v, want %v", gotIDs, tt.wantIDs)
			}
			if gotPos := positions(got); !reflect.DeepEqual(gotPos, tt.wantPosList) {
				t.Errorf("positions: got %v, want %v", gotPos, tt.wantPosList)
			}
			for i, e := range got {
				if e.Version != int64(i+1) {
					t.Errorf("event %d version: got %d, want %d", i, e.Version, i+1)
				}
			}
		})
	}
}

func TestEventFieldsRoundTrip(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	tests := []struct {
		name     string
		time     time.Time
		data     json.RawMessage
		wantTime time.Time
	}{
		{
			name:     "utc with nanoseconds",
			time:     time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC),
			data:     json.RawMessage(`{"appointment_id":"x"}`),
			wantTime: time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC),
		},
		{
			name:     "other zone is stored as utc",
			time:     time.Date(2026, 7, 1, 23, 30, 0, 1, paris),
			data:     json.RawMessage(`{"appointment_id":"x"}`),
			wantTime: time.Date(2026, 7, 1, 21, 30, 0, 1, time.UTC),
		},
		{
			name:     "whole seconds",
			time:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			data:     json.RawMessage(`{"appointment_id":"x"}`),
			wantTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		},
		{
			name:     "data bytes kept as given",
			time:     testTime,
			data:     json.RawMessage(`{"appointment_id":"<é & \u00e9>"}`),
			wantTime: testTime,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpenStore(t)
			in := events.Envelope{
				ID:            "evt-1",
				Stream:        "stream-1",
				Version:       1,
				Type:          "appointment.deleted",
				SchemaVersion: 1,
				Time:          tt.time,
				OriginNode:    "node-2",
				Actor:         "user-7",
				CorrelationID: "corr-9",
				Data:          tt.data,
			}
			mustApply(t, s, 1, events.Batch{Events: []events.Envelope{in}, Expect: []events.Expectation{expect(in.Stream, 0)}})

			want := in
			want.Position = 1
			want.Time = tt.wantTime
			for _, got := range [][]events.Envelope{mustReadAll(t, s), mustReadStream(t, s, in.Stream)} {
				if len(got) != 1 {
					t.Fatalf("got %d events, want 1", len(got))
				}
				if got[0].Time.Location() != time.UTC {
					t.Errorf("time location: got %v, want UTC", got[0].Time.Location())
				}
				if !got[0].Time.Equal(tt.wantTime) || got[0].Time.Nanosecond() != tt.wantTime.Nanosecond() {
					t.Errorf("time: got %s, want %s", got[0].Time.Format(time.RFC3339Nano), tt.wantTime.Format(time.RFC3339Nano))
				}
				requireSameEvents(t, got, []events.Envelope{want})
			}
		})
	}
}

// TestReadsRunBesideAWriter checks that an open apply transaction does not
// block readers, and that they see only committed events.
func TestReadsRunBesideAWriter(t *testing.T) {
	s := mustOpenStore(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 1))

	tx := mustBegin(t, s)
	mustAppend(t, tx, streamBatch(t, "a", 1, 1))
	done := make(chan []events.Envelope, 1)
	go func() {
		got, _ := s.Read(context.Background(), 0, 100)
		done <- got
	}()
	select {
	case got := <-done:
		if gotPos := positions(got); !reflect.DeepEqual(gotPos, []int64{1}) {
			t.Fatalf("Read beside an open write: got positions %v, want [1]", gotPos)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read blocked by an open write transaction")
	}
	mustCommit(t, tx)
	if gotPos := positions(mustReadAll(t, s)); !reflect.DeepEqual(gotPos, []int64{1, 2}) {
		t.Fatalf("Read after commit: got positions %v, want [1 2]", gotPos)
	}
}
