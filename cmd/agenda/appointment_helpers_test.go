package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// apiParticipant is one entry of an appointment's participants.
type apiParticipant struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Status   string `json:"status"`
}

// apiAppointment is the contract's Appointment.
type apiAppointment struct {
	ID           string           `json:"id"`
	OwnerID      string           `json:"owner_id"`
	GroupID      *string          `json:"group_id"`
	Title        string           `json:"title"`
	Description  string           `json:"description"`
	Location     string           `json:"location"`
	Start        time.Time        `json:"start"`
	End          time.Time        `json:"end"`
	Privacy      string           `json:"privacy"`
	Status       string           `json:"status"`
	MyStatus     string           `json:"my_status"`
	Participants []apiParticipant `json:"participants"`
	CreatedAt    time.Time        `json:"created_at"`
	UpdatedAt    time.Time        `json:"updated_at"`
	Version      int64            `json:"version"`
	OriginNode   string           `json:"origin_node"`
}

var appointmentKeys = []string{"id", "owner_id", "group_id", "title", "description", "location", "start", "end",
	"privacy", "status", "my_status", "participants", "created_at", "updated_at", "version", "origin_node"}

// decodeAppointment checks that r's body has exactly the Appointment shape,
// with every time in UTC, and decodes it.
func decodeAppointment(t testing.TB, r *response) apiAppointment {
	t.Helper()
	m := expectKeys(t, r.Body, appointmentKeys...)
	for _, k := range []string{"start", "end", "created_at", "updated_at"} {
		if s := rawString(t, m, k); !strings.HasSuffix(s, "Z") {
			t.Fatalf("%s = %q, want UTC (ending in Z)", k, s)
		}
	}
	var a apiAppointment
	r.JSON(t, &a)
	if a.ID == "" || a.OriginNode == "" {
		t.Fatalf("appointment without id or origin_node: %s", r.Body)
	}
	return a
}

// apiEntry is one entry of GET /api/agenda.
type apiEntry struct {
	AppointmentID string    `json:"appointment_id"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	MyStatus      string    `json:"my_status"`
	Status        string    `json:"status"`
	Pending       bool      `json:"pending"`
}

// agendaOf returns c's agenda for [from, to).
func (c *client) agendaOf(from, to time.Time) []apiEntry {
	c.t.Helper()
	var out []apiEntry
	c.do("GET", agendaPath(from, to), nil).expect(c.t, http.StatusOK).JSON(c.t, &out)
	return out
}

// titles lists the titles of entries, in order.
func titles(entries []apiEntry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Title)
	}
	return out
}

// create books [start, start+d) for c and returns the appointment.
func (c *client) create(title string, start time.Time, d time.Duration) apiAppointment {
	c.t.Helper()
	r := c.do("POST", "/api/appointments", appointmentBody(title, start, d)).expect(c.t, http.StatusCreated)
	return decodeAppointment(c.t, r)
}

// patchJSON sends a PATCH with an optional If-Match.
func (c *client) patchJSON(path string, body any, ifMatch string) *response {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	if ifMatch != "" {
		hdr["If-Match"] = ifMatch
	}
	return c.raw("PATCH", path, b, hdr)
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// day is the date most tests book on.
var day = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func at(hour, minute int) time.Time {
	return day.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}
