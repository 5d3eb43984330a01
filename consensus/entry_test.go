package consensus

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/fastjson"
)

// createEntry encodes the entry a personal appointment's creation
// proposes: the appointment and its owner's agenda entry.
func createEntry(tb testing.TB) []byte {
	tb.Helper()
	const id, owner = "019ae8f2-7c1d-7a3e-9b4f-0c2d4e6f8a10", "019ae8f2-11aa-7bcd-8e9f-a0b1c2d3e4f5"
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	m := events.Meta{Time: time.Now(), OriginNode: "n1", Actor: owner, CorrelationID: "req-5f2a9c"}
	created, err := events.New("019ae8f2-7c1d-7a3e-9b4f-0c2d4e6f8a11", events.AppointmentStream(id), 1, events.AppointmentCreated{
		AppointmentID: id, OwnerID: owner, Title: "Design review", Description: "Walk through the write path",
		Location: "Room 4", Start: start, End: start.Add(time.Hour), Privacy: "private", Status: "confirmed",
	}, m)
	if err != nil {
		tb.Fatal(err)
	}
	entry, err := events.New("019ae8f2-7c1d-7a3e-9b4f-0c2d4e6f8a12", events.ScheduleStream(owner), 7, events.AgendaEntryAdded{
		UserID: owner, AppointmentID: id, Start: start, End: start.Add(time.Hour), Role: "owner",
	}, m)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := encodeBatch(events.Batch{
		Events: []events.Envelope{created, entry},
		Expect: []events.Expectation{{Stream: events.AppointmentStream(id)}, {Stream: events.ScheduleStream(owner), Version: 6}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkDecodeEntry decodes a creation's entry as every replica's state
// machine does (and the leader's Propose before it), with encoding/json
// throughout as before internal/fastjson, and as now.
func BenchmarkDecodeEntry(b *testing.B) {
	data := createEntry(b)[1:]
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var bt events.Batch
			if err := json.Unmarshal(data, &bt); err != nil {
				b.Fatal(err)
			}
			for i := range bt.Events {
				if _, err := bt.Events[i].Decode(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("fastjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bt, err := decodeBatch(data)
			if err != nil {
				b.Fatal(err)
			}
			for i := range bt.Events {
				if _, err := bt.Events[i].DecodeWith(fastjson.Try); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestDecodeEntryAsBefore: the entry a creation proposes decodes to the
// same batch and events as encoding/json read it before.
func TestDecodeEntryAsBefore(t *testing.T) {
	data := createEntry(t)[1:]
	var want events.Batch
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	got, err := decodeBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != len(want.Events) {
		t.Fatalf("%d events, want %d", len(got.Events), len(want.Events))
	}
	for i := range want.Events {
		w, g := want.Events[i], got.Events[i]
		wb, _ := json.Marshal(w)
		gb, _ := json.Marshal(g)
		if string(wb) != string(gb) || w.Time.Location().String() != g.Time.Location().String() {
			t.Fatalf("event %d: got %s, want %s", i, gb, wb)
		}
		we, err := w.Decode()
		if err != nil {
			t.Fatal(err)
		}
		ge, err := g.DecodeWith(fastjson.Try)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(we, ge) {
			t.Fatalf("event %d decodes to %#v, want %#v", i, ge, we)
		}
	}
}
