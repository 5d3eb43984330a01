package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/agendahq/agenda/events"
)

// TestCheckAgainstStore holds the store checks to a small made-up history:
// they must flag a stale refusal, an answer showing another write, a lost
// acknowledged write and a refused write that committed, and nothing else.
func TestCheckAgainstStore(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ev := func(pos, version int64, id, typ, title, req string) events.Envelope {
		data, _ := json.Marshal(map[string]string{"appointment_id": id, "title": title})
		return events.Envelope{Position: pos, Version: version, Stream: "appointment-" + id, Type: typ, CorrelationID: req, Data: data}
	}
	agendaEv := func(pos int64, req string) events.Envelope {
		return events.Envelope{Position: pos, Version: pos, Stream: "agenda-u", Type: "agenda.entry_added", CorrelationID: req}
	}
	store := []events.Envelope{
		ev(1, 1, "a", "appointment.created", "t0", "r1"),
		ev(2, 2, "a", "appointment.updated", "t1", "r2"),
		ev(3, 3, "a", "appointment.updated", "t2", "r3"),
		ev(4, 4, "a", "appointment.deleted", "", "r4"),
		// A create is two events; the slot is taken from the first.
		ev(5, 1, "b", "appointment.created", "u0", "r6"),
		agendaEv(6, "r6"),
		ev(7, 2, "b", "appointment.updated", "u1", "r8"),
	}
	rec := func(req string, kind linKind, id, title string, call, ret int, status int, code string, pos, version int64, shown string) linRecord {
		return linRecord{ReqID: req, In: linInput{Kind: kind, Slot: "u/0", ID: id, Title: title}, Call: ms(call), Return: ms(ret),
			Status: status, Code: code, Position: pos, Version: version, Title: shown, ETag: version}
	}
	recs := []linRecord{
		rec("r1", linCreate, "a", "t0", 0, 10, http.StatusCreated, "", 1, 1, "t0"),
		rec("r2", linPatch, "a", "t1", 20, 30, http.StatusOK, "", 2, 2, "t1"),
		// Shows a state its own event did not make.
		rec("r3", linPatch, "a", "t2", 40, 50, http.StatusOK, "", 3, 4, "t3"),
		rec("r4", linDelete, "a", "", 60, 70, http.StatusNoContent, "", 4, 0, ""),
		// The slot is free from 70 until b's create is sent at 90 (its
		// first event at 5): stale.
		rec("r5", linCreate, "", "x", 75, 80, http.StatusConflict, "schedule_conflict", -1, 0, ""),
		rec("r6", linCreate, "b", "u0", 90, 100, http.StatusCreated, "", 6, 1, "u0"),
		// Acknowledged, never committed: lost.
		rec("r7", linPatch, "b", "lost", 110, 120, http.StatusOK, "", 7, 2, "lost"),
		// Refused, but committed.
		rec("r8", linPatch, "b", "u1", 130, 140, http.StatusServiceUnavailable, "unavailable", -1, 0, ""),
		// A strong read that shows the state before the patch acknowledged at 30.
		rec("r9", linStrongRead, "a", "", 35, 38, http.StatusOK, "", 2, 1, "t0"),
	}
	recs = append(recs, rec("r10", linPatch, "a", "t9", 41, 45, http.StatusNotFound, "not_found", -1, 0, ""))
	v := checkAgainstStore(recs, newStoreFacts(store), ms(200))
	expectViolations(t, v, []violation{
		{"req r3)", "answer shows version 4 \"t3\", but the write's own event made version 3 \"t2\""},
		{"req r3)", "answer's ETag is 4"},
		{"req r5)", "schedule_conflict, but the slot was free"},
		{"req r7)", "not in the event store"},
		{"req r8)", "but it committed"},
		{"req r9)", "strong read shows version 1"},
		{"req r10)", "404, but the appointment was live"},
	})
}

// TestCheckAgainstStoreGroup holds the store checks to a made-up history
// of a group's slot: lin0's imposition takes both sub-slots, lin0's own
// appointment only lin0's; deleting the imposition cancels it, and it
// stays readable.
func TestCheckAgainstStoreGroup(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ev := func(pos, version int64, id, typ, title, req string) events.Envelope {
		data, _ := json.Marshal(map[string]string{"appointment_id": id, "title": title})
		return events.Envelope{Position: pos, Version: version, Stream: "appointment-" + id, Type: typ, CorrelationID: req, Data: data}
	}
	agendaEv := func(pos int64, user, req string) events.Envelope {
		return events.Envelope{Position: pos, Version: pos, Stream: "agenda-" + user, Type: "agenda.entry_added", CorrelationID: req}
	}
	store := []events.Envelope{
		ev(1, 1, "own", "appointment.created", "mine", "r1"), // lin0's own, in sub-slot 0
		agendaEv(2, "lin0", "r1"),
		ev(3, 1, "own", "appointment.deleted", "", "r2"),
		ev(4, 1, "g", "appointment.created", "t0", "r3"), // the imposition, both sub-slots
		agendaEv(5, "lin0", "r3"),
		agendaEv(6, "lin1", "r3"),
		ev(7, 2, "g", "appointment.cancelled", "", "r5"),
	}
	rec := func(req string, kind linKind, sub int, id, title string, call, ret int, status int, code string, pos, version int64, shown string) linRecord {
		return linRecord{ReqID: req, In: linInput{Kind: kind, Slot: "g/0", Sub: sub, ID: id, Title: title}, Call: ms(call), Return: ms(ret),
			Status: status, Code: code, Position: pos, Version: version, Title: shown, ETag: version}
	}
	recs := []linRecord{
		rec("r1", linCreate, 0, "own", "mine", 0, 10, http.StatusCreated, "", 2, 1, "mine"),
		// lin0's own appointment does not take lin1's sub-slot: stale.
		rec("r1b", linCreate, 1, "", "x", 12, 14, http.StatusConflict, "schedule_conflict", -1, 0, ""),
		rec("r2", linDelete, 0, "own", "", 20, 30, http.StatusNoContent, "", 3, 0, ""),
		rec("r3", linImpose, 0, "g", "t0", 40, 50, http.StatusCreated, "", 6, 1, "t0"),
		// The imposition takes lin1's sub-slot: not stale.
		rec("r4", linCreate, 1, "", "y", 55, 58, http.StatusConflict, "schedule_conflict", -1, 0, ""),
		rec("r5", linDelete, 0, "g", "", 60, 70, http.StatusNoContent, "", 7, 0, ""),
		// Cancelled, it is still there to read; a 404 is not.
		rec("r6", linStrongRead, 1, "g", "", 80, 90, http.StatusOK, "", 7, 2, "t0"),
		rec("r7", linStrongRead, 1, "g", "", 80, 90, http.StatusNotFound, "not_found", -1, 0, ""),
		// And it takes no sub-slot any more: stale.
		rec("r8", linImpose, 0, "", "z", 95, 99, http.StatusConflict, "schedule_conflict", -1, 0, ""),
	}
	v := checkAgainstStore(recs, newStoreFacts(store), ms(200))
	expectViolations(t, v, []violation{
		{"req r1b)", "schedule_conflict, but the slot was free"},
		{"req r7)", "404, but the appointment was live"},
		{"req r8)", "schedule_conflict, but the slot was free"},
	})
	if porcupine.CheckOperations(linModel, v.Ops) {
		t.Error("porcupine accepts the history, whose stale refusals no order explains")
	}
}

// violation is one the store checks must report: in the line of request
// req, the text what.
type violation struct{ req, what string }

// expectViolations fails unless v holds exactly the violations want.
func expectViolations(t *testing.T, v linVerdict, want []violation) {
	t.Helper()
	got := strings.Join(v.Violations, "\n")
	for _, w := range want {
		found := false
		for _, line := range v.Violations {
			if strings.Contains(line, w.req) && strings.Contains(line, w.what) {
				found = true
			}
		}
		if !found {
			t.Errorf("no violation %q for %s; got:\n%s", w.what, w.req, got)
		}
	}
	if len(v.Violations) != len(want) {
		t.Errorf("%d violations, want %d:\n%s", len(v.Violations), len(want), got)
	}
}
