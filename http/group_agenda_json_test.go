package http

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
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
		rec := httptest.NewRecorder()
		writeGroupAgenda(rec, view)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: status %d, Content-Type %q", name, rec.Code, rec.Header().Get("Content-Type"))
		}
		if want := viaEncodingJSON(t, view); !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("%s: wrote\n%.400s\nwant\n%.400s", name, rec.Body.Bytes(), want)
		}
	}
}
