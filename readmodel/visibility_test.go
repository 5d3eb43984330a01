package readmodel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// visibilityCase is one combination of everything agenda.SeesDetails
// decides on, stored as a group of its own.
type visibilityCase struct {
	view       agenda.EntryView
	entryGroup string // "personal", "this" or "other"
	rel        string // the viewer's rank against the member's: "above", "equal", "below"
}

func (c visibilityCase) String() string {
	kind := "flat"
	if c.view.Hierarchical {
		kind = "hierarchical"
	}
	return fmt.Sprintf("%s/viewer %s/own=%v/takes part=%v/%s/%s entry", kind, c.rel, c.view.Own, c.view.TakesPart,
		c.view.Privacy, c.entryGroup)
}

// TestGroupAgendaAgreesWithSeesDetails proves that the SQL filter of
// GroupAgenda and the Go rule agenda.SeesDetails agree on every case: each
// combination of group kind, rank relation, own entry, taking part,
// privacy and the entry's group is stored, read back through GroupAgenda,
// and the member's entry must be detailed exactly when the rule says so
// (and masked, without title, otherwise).
func TestGroupAgendaAgreesWithSeesDetails(t *testing.T) {
	db, _ := mustOpenDB(t)
	start := at.Add(9 * time.Hour)
	end := start.Add(time.Hour)
	ranks := map[string][2]int{"above": {500, 10}, "equal": {10, 10}, "below": {10, 500}} // viewer, member

	var cases []visibilityCase
	for _, hier := range []bool{false, true} {
		for _, rel := range []string{"above", "equal", "below"} {
			for _, own := range []bool{false, true} {
				for _, takesPart := range []bool{false, true} {
					if own && !takesPart {
						continue // one's own entry is one's own part
					}
					for _, privacy := range []string{agenda.PrivacyFull, agenda.PrivacyFreeBusy} {
						for _, eg := range []string{"personal", "this", "other"} {
							i := len(cases)
							groupID := fmt.Sprintf("g%03d", i)
							v := agenda.EntryView{Hierarchical: hier, GroupID: groupID, ViewerRank: ranks[rel][0],
								MemberRank: ranks[rel][1], Own: own, TakesPart: takesPart, Privacy: privacy}
							switch eg {
							case "this":
								v.EntryGroupID = groupID
							case "other":
								v.EntryGroupID = fmt.Sprintf("other%03d", i)
							}
							if own {
								v.MemberRank = v.ViewerRank
							}
							cases = append(cases, visibilityCase{view: v, entryGroup: eg, rel: rel})
						}
					}
				}
			}
		}
	}

	var users []agenda.User
	for i := range cases {
		users = append(users, user(fmt.Sprintf("v%03d", i), fmt.Sprintf("viewer%03d", i), "V"),
			user(fmt.Sprintf("m%03d", i), fmt.Sprintf("member%03d", i), "M"))
	}
	insertUsers(t, db, users...)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		for i, c := range cases {
			viewer, member := fmt.Sprintf("v%03d", i), fmt.Sprintf("m%03d", i)
			if c.view.Own {
				member = viewer
			}
			g := readmodel.GroupRecord{ID: c.view.GroupID, Name: c.view.GroupID, CreatorID: viewer,
				Hierarchical: c.view.Hierarchical, At: at, Version: 1, OriginNode: "node-a"}
			if err := tx.InsertGroup(g); err != nil {
				return err
			}
			if err := tx.SetMember(g.ID, viewer, c.view.ViewerRank, at, 2, "node-a"); err != nil {
				return err
			}
			if member != viewer {
				if err := tx.SetMember(g.ID, member, c.view.MemberRank, at, 3, "node-a"); err != nil {
					return err
				}
			}
			apptID := fmt.Sprintf("a%03d", i)
			rec := groupAppt(apptID, member, c.view.EntryGroupID, c.view.Privacy, agenda.StatusConfirmed, start, end)
			if err := tx.InsertAppointment(rec); err != nil {
				return err
			}
			if err := tx.AddAgendaEntry(member, apptID, start, end, agenda.RoleOwner, "node-a"); err != nil {
				return err
			}
			if c.view.TakesPart && member != viewer {
				if err := tx.AddAgendaEntry(viewer, apptID, start, end, agenda.RoleAccepted, "node-a"); err != nil {
					return err
				}
			}
		}
		return nil
	})

	shown := 0
	for i, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			viewer, member := fmt.Sprintf("v%03d", i), fmt.Sprintf("m%03d", i)
			if c.view.Own {
				member = viewer
			}
			view, err := db.GroupAgenda(context.Background(), c.view.GroupID, viewer, start.Add(-time.Hour), end.Add(time.Hour))
			if err != nil {
				t.Fatalf("GroupAgenda: %v", err)
			}
			var entry *agenda.GroupAgendaEntry
			for _, m := range view {
				if m.UserID == member {
					for j := range m.Entries {
						if e := &m.Entries[j]; e.AgendaEntry == nil || e.AppointmentID == fmt.Sprintf("a%03d", i) {
							entry = e
						}
					}
				}
			}
			if entry == nil {
				t.Fatalf("the member's entry is missing from %+v", view)
			}
			want := agenda.SeesDetails(c.view)
			got := !entry.Busy && entry.AgendaEntry != nil
			if got != want {
				t.Fatalf("SQL shows details = %v, agenda.SeesDetails = %v", got, want)
			}
			if got {
				shown++
				if entry.Title != fmt.Sprintf("Title a%03d", i) {
					t.Errorf("detailed entry has title %q", entry.Title)
				}
			} else if entry.AgendaEntry != nil {
				t.Errorf("masked entry carries details: %+v", entry.AgendaEntry)
			}
		})
	}
	// The table must exercise both answers, and in particular the new
	// limit: a superior never sees another group's appointment.
	if shown == 0 || shown == len(cases) {
		t.Fatalf("%d of %d cases detailed: the table does not exercise the rule", shown, len(cases))
	}
	other := agenda.EntryView{Hierarchical: true, GroupID: "g", ViewerRank: 500, MemberRank: 10, Privacy: agenda.PrivacyFull, EntryGroupID: "x"}
	if agenda.SeesDetails(other) {
		t.Fatal("a superior sees another group's appointment")
	}
}
