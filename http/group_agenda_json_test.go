package http

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
)

func TestGroupAgendaJSONIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	group := "g-1"
	detailed := func(i int) agenda.GroupAgendaEntry {
		return agenda.GroupAgendaEntry{Start: at, End: at.Add(time.Hour), Entry: &agenda.Entry{
			AppointmentID: fmt.Sprint("a-", i), GroupID: &group, Title: "<b>Plan</b> & “review” \u2028", Description: strings.Repeat("d", 300),
			Location: "Sala 3", Start: at, End: at.Add(time.Hour), Privacy: agenda.PrivacyFull, Status: agenda.StatusConfirmed,
			MyStatus: agenda.RoleAuto, Version: 3, OriginNode: "n1"}}
	}
	masked := agenda.GroupAgendaEntry{Start: at, End: at.Add(30 * time.Minute), Busy: true}
	many := []agenda.GroupAgendaEntry{}
	for i := range 400 { // past the writer's buffer
		many = append(many, detailed(i), masked)
	}
	views := map[string][]agenda.MemberAgenda{
		"no members":    {},
		"empty entries": {{UserID: "u1", Username: "ana", DisplayName: "Ana \"A\" <Ruiz>", Entries: []agenda.GroupAgendaEntry{}}},
		"nil entries":   {{UserID: "u1", Username: "ana", DisplayName: "Ana"}},
		"mixed": {
			{UserID: "u1", Username: "ana", DisplayName: "Ana", Entries: []agenda.GroupAgendaEntry{detailed(1), masked}},
			{UserID: "u2", Username: "bob", DisplayName: "", Entries: []agenda.GroupAgendaEntry{}},
			{UserID: "u3", Username: "cleo", DisplayName: "Cleo", Entries: many},
		},
	}
	for name, view := range views {
		got, err := groupAgendaJSON(view)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := viaEncodingJSON(t, view); !bytes.Equal(got, want) {
			t.Errorf("%s: wrote\n%.400s\nwant\n%.400s", name, got, want)
		}
	}
}

// TestGroupAgendaJSONIsBounded: an answer past agenda.MaxAgendaBytes is
// refused, though each appointment's details are small next to it (they
// repeat in every entry).
func TestGroupAgendaJSONIsBounded(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	entry := agenda.GroupAgendaEntry{Start: at, End: at.Add(time.Hour), Entry: &agenda.Entry{
		AppointmentID: "a", Title: "t", Description: strings.Repeat("d", 2000), Start: at, End: at.Add(time.Hour)}}
	per := len(viaEncodingJSON(t, entry))
	view := []agenda.MemberAgenda{{UserID: "u", Username: "u", Entries: slices.Repeat([]agenda.GroupAgendaEntry{entry}, agenda.MaxAgendaBytes/per-10)}}
	if _, err := groupAgendaJSON(view); err != nil {
		t.Fatalf("%d entries of %d bytes: %v, want them under the bound", len(view[0].Entries), per, err)
	}
	view[0].Entries = append(view[0].Entries, slices.Repeat([]agenda.GroupAgendaEntry{entry}, 20)...)
	var ae *agenda.Error
	if _, err := groupAgendaJSON(view); !errors.As(err, &ae) || ae.Details["max_bytes"] != agenda.MaxAgendaBytes {
		t.Errorf("%d entries of %d bytes: %v, want the answer refused past %d bytes", len(view[0].Entries), per, err, agenda.MaxAgendaBytes)
	}
}
