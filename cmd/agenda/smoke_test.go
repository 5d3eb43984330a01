package main

import (
	"net/http"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ana.do("POST", "/api/appointments", appointmentBody("Dentist", start, time.Hour)).expect(t, http.StatusCreated)
	r := ana.do("POST", "/api/appointments", appointmentBody("Clash", start.Add(30*time.Minute), time.Hour)).expect(t, http.StatusConflict)
	if got := r.ErrorCode(); got != "schedule_conflict" {
		t.Fatalf("code = %q, want schedule_conflict", got)
	}
	var entries []map[string]any
	ana.do("GET", agendaPath(start.Add(-time.Hour), start.Add(24*time.Hour)), nil).expect(t, http.StatusOK).JSON(t, &entries)
	if len(entries) != 1 {
		t.Fatalf("agenda has %d entries, want 1", len(entries))
	}
}
