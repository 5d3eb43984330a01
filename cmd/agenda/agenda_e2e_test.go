package main

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestE2EAgendaWindow(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	bob := registerUser(t, n, "bob")

	// Ana's day, booked in an order other than by start time. Touching
	// intervals (one's end is the next one's start) do not conflict.
	ana.create("B 10-11", at(10, 0), time.Hour)
	ana.create("A 9-10", at(9, 0), time.Hour)
	ana.create("C 13-14", at(13, 0), time.Hour)
	ana.create("Z 8-9", at(8, 0), time.Hour)
	ana.create("N 23:00-01:00", at(-1, 0), 2*time.Hour)
	ana.create("L 11-13", at(11, 0), 2*time.Hour)
	// Bob's long appointments (an agenda query looks back up to 31 days).
	bob.create("Month", day.Add(-31*24*time.Hour+time.Minute), 31*24*time.Hour)
	bob.create("Earlier month", day.Add(-62*24*time.Hour), 31*24*time.Hour)
	bob.create("Bob 9-10", at(9, 0), time.Hour)

	tests := []struct {
		name     string
		c        *client
		from, to time.Time
		want     []string
	}{
		{"exactly one slot", ana, at(9, 0), at(10, 0), []string{"A 9-10"}},
		{"straddling two slots", ana, at(9, 30), at(10, 30), []string{"A 9-10", "B 10-11"}},
		{"the whole day, by start time", ana, day, day.Add(24 * time.Hour),
			[]string{"N 23:00-01:00", "Z 8-9", "A 9-10", "B 10-11", "L 11-13", "C 13-14"}},
		{"an entry ending at from is excluded", ana, at(14, 0), at(15, 0), []string{}},
		{"an entry starting at to is excluded", ana, at(7, 0), at(8, 0), []string{}},
		{"the last second of an entry", ana, at(14, 0).Add(-time.Second), at(14, 0), []string{"C 13-14"}},
		{"an entry spanning midnight, from the next day", ana, day, at(0, 30), []string{"N 23:00-01:00"}},
		{"an entry spanning midnight, from the day before", ana, at(-2, 0), day, []string{"N 23:00-01:00"}},
		{"a window inside an entry", ana, at(11, 15), at(11, 45), []string{"L 11-13"}},
		{"an empty day", ana, day.Add(48 * time.Hour), day.Add(72 * time.Hour), []string{}},
		{"a window of exactly 366 days", ana, day.Add(-183 * 24 * time.Hour), day.Add(183 * 24 * time.Hour),
			[]string{"N 23:00-01:00", "Z 8-9", "A 9-10", "B 10-11", "L 11-13", "C 13-14"}},
		{"a window in another year", ana, day.AddDate(-1, 0, 0), day.AddDate(-1, 0, 1), []string{}},
		{"only my own entries", bob, at(9, 0), at(10, 0), []string{"Bob 9-10"}},
		{"a 31-day entry that started 31 days minus a minute ago", bob, day, day.Add(time.Minute), []string{"Month"}},
		{"a window at the start of a 31-day entry", bob, day.Add(-31*24*time.Hour + time.Minute),
			day.Add(-31*24*time.Hour + 2*time.Minute), []string{"Month"}},
		{"long entries back to back", bob, day.Add(-32 * 24 * time.Hour), day.Add(-30 * 24 * time.Hour),
			[]string{"Earlier month", "Month"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entries := tc.c.withT(t).agendaOf(tc.from, tc.to)
			if got := titles(entries); !slices.Equal(got, tc.want) {
				t.Fatalf("agenda [%v, %v) = %v, want %v", tc.from, tc.to, got, tc.want)
			}
			for _, e := range entries {
				if e.MyStatus != "owner" || e.Status != "confirmed" || e.Pending {
					t.Errorf("entry %q: my_status %q status %q pending %v, want owner/confirmed/false", e.Title, e.MyStatus, e.Status, e.Pending)
				}
			}
		})
	}
}

// TestE2ELongAgendasAnswerWhole reads agendas longer than a pooled answer
// buffer starts (64 KB), one's own and a group's: the answer is whole,
// and valid JSON.
func TestE2ELongAgendasAnswerWhole(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	gid := createGroup(t, ana, "Alone", true)
	long := strings.Repeat("a description of some length ", 65) // 1,885 bytes
	for i := range 60 {
		body := appointmentBody(fmt.Sprint("Long ", i), at(0, 0).Add(time.Duration(i)*time.Hour), time.Hour)
		body["description"] = long
		ana.do("POST", "/api/appointments", body).expect(t, http.StatusCreated)
	}
	from, to := at(0, 0), at(0, 0).Add(60*time.Hour)
	r := ana.do("GET", fmt.Sprintf("/api/agenda?from=%s&to=%s", rfc(from), rfc(to)), nil).expect(t, http.StatusOK)
	var entries []apiEntry
	r.JSON(t, &entries)
	if len(r.Body) < 100<<10 || len(entries) != 60 || entries[59].Title != "Long 59" || entries[59].Description != long {
		t.Fatalf("a %d-byte agenda answer holds %d entries, want all 60 whole", len(r.Body), len(entries))
	}
	var members []struct {
		Username string     `json:"username"`
		Entries  []apiEntry `json:"entries"`
	}
	r = ana.do("GET", fmt.Sprintf("/api/groups/%s/agenda?from=%s&to=%s", gid, rfc(from), rfc(to)), nil).expect(t, http.StatusOK)
	r.JSON(t, &members)
	if len(members) != 1 || len(members[0].Entries) != 60 || members[0].Entries[59].Description != long {
		t.Fatalf("a %d-byte group agenda answer: %+v, want ana's 60 entries whole", len(r.Body), members)
	}
}

// TestE2EAgendaWindowOutOfRange queries a window so far in the future that
// its Unix nanoseconds overflow int64. It must not wrap around to another
// era (2^64 ns ≈ 584.5 years later, the same instant wraps to today).
func TestE2EAgendaWindowOutOfRange(t *testing.T) {
	t.Parallel()
	n := mustStartNode(t)
	ana := registerUser(t, n, "ana")
	a := ana.create("Dentist", at(9, 0), time.Hour)
	wrap := func(t time.Time) time.Time { return t.Add(math.MaxInt64).Add(math.MaxInt64).Add(2) }
	from, to := wrap(a.Start.Add(-time.Hour)), wrap(a.End.Add(time.Hour))
	r := ana.do("GET", fmt.Sprintf("/api/agenda?from=%s&to=%s", rfc(from), rfc(to)), nil)
	if r.Status == http.StatusBadRequest {
		expectError(t, r, http.StatusBadRequest, "invalid")
		return
	}
	var entries []apiEntry
	r.expect(t, http.StatusOK).JSON(t, &entries)
	if len(entries) != 0 {
		t.Fatalf("agenda [%v, %v) = %v, want nothing (or 400): it wrapped around to %v", from, to, titles(entries), a.Start)
	}
}
