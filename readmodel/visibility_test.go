package readmodel_test

import (
	"context"
	"fmt"
	"slices"
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
			if err := tx.SetMember(g.ID, viewer, c.view.ViewerRank, at, "node-a"); err != nil {
				return err
			}
			if member != viewer {
				if err := tx.SetMember(g.ID, member, c.view.MemberRank, at, "node-a"); err != nil {
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
						if e := &m.Entries[j]; e.Entry == nil || e.AppointmentID == fmt.Sprintf("a%03d", i) {
							entry = e
						}
					}
				}
			}
			if entry == nil {
				t.Fatalf("the member's entry is missing from %+v", view)
			}
			want := agenda.SeesDetails(c.view)
			got := !entry.Busy && entry.Entry != nil
			if got != want {
				t.Fatalf("SQL shows details = %v, agenda.SeesDetails = %v", got, want)
			}
			if got {
				shown++
				if entry.Title != fmt.Sprintf("Title a%03d", i) {
					t.Errorf("detailed entry has title %q", entry.Title)
				}
			} else if entry.Entry != nil {
				t.Errorf("masked entry carries details: %+v", entry.Entry)
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

// allRoles is every participation status an agenda entry can hold.
var allRoles = []string{agenda.RoleOwner, agenda.RoleAuto, agenda.RolePending, agenda.RoleAccepted, agenda.RoleDeclined}

// TestBlockingRolesAgreeWithSQL proves that the statements which pick the
// entries blocking a user's time (Schedule, GroupAgenda, GroupBusy) and the
// Go rule agenda.Blocks agree on every participation status: the member
// takes part in one appointment per status, each in an hour of its own,
// stored as the projection stores it (a declined invitation leaves no
// agenda entry), and each statement must return exactly those the rule
// says block.
func TestBlockingRolesAgreeWithSQL(t *testing.T) {
	for _, r := range agenda.BlockingRoles() {
		if !slices.Contains(allRoles, r) {
			t.Fatalf("blocking role %q is not a participation status this test knows", r)
		}
	}
	db, _ := mustOpenDB(t)
	ctx := context.Background()
	insertUsers(t, db, user("v", "viewer", "V"), user("m", "member", "M"))
	seedGroup(t, db, readmodel.GroupRecord{ID: "g", Name: "g", CreatorID: "v", Hierarchical: true, At: at, Version: 1,
		OriginNode: "node-a"}, seedMember{"v", 500, 2}, seedMember{"m", 10, 3})
	day := at.Add(24 * time.Hour)
	hour := func(role string) time.Time { return day.Add(time.Duration(slices.Index(allRoles, role)) * time.Hour) }
	var want []string      // appointment IDs of the blocking entries
	var wantStarts []int64 // and their starts
	var bookings []groupBooking
	for _, role := range allRoles {
		id := "a-" + role
		start := hour(role)
		bookings = append(bookings, groupBooking{
			rec:   groupAppt(id, "m", "", agenda.PrivacyFull, agenda.StatusConfirmed, start, start.Add(time.Hour)),
			roles: map[string]string{"m": role}})
		if agenda.Blocks(role) {
			want = append(want, id)
			wantStarts = append(wantStarts, start.UnixNano())
		}
	}
	bookGroup(t, db, bookings...)
	if len(want) == 0 || len(want) == len(allRoles) {
		t.Fatalf("%d of %d statuses block: the table does not exercise the rule", len(want), len(allRoles))
	}
	from, to := day.Add(-time.Hour), day.Add(time.Duration(len(allRoles)+1)*time.Hour)

	t.Run("Schedule", func(t *testing.T) {
		s, err := db.Schedule(ctx, "m", from, to, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(s.Conflicts, func(sl agenda.Slot) string { return sl.AppointmentID }); !equalStrings(got, want) {
			t.Errorf("Schedule conflicts = %v, want %v (agenda.Blocks)", got, want)
		}
	})
	t.Run("GroupAgenda", func(t *testing.T) {
		view, err := db.GroupAgenda(ctx, "g", "v", from, to)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range view {
			if m.UserID != "m" {
				continue
			}
			for _, e := range m.Entries {
				if e.Entry == nil {
					t.Fatalf("entry at %s is masked; the superior should see a personal full one", e.Start)
				}
				got = append(got, e.AppointmentID)
			}
		}
		if !equalStrings(got, want) {
			t.Errorf("GroupAgenda entries of the member = %v, want %v (agenda.Blocks)", got, want)
		}
	})
	t.Run("GroupBusy", func(t *testing.T) {
		busy, err := db.GroupBusy(ctx, "g", "v", from, to)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, iv := range busy {
			got = append(got, iv.Start.UnixNano())
		}
		slices.Sort(got)
		if !slices.Equal(got, wantStarts) {
			t.Errorf("GroupBusy starts = %v, want %v (agenda.Blocks)", got, wantStarts)
		}
	})
}

// TestGroupAgendaAgreesWithCanManage proves that the rank rule GroupAgenda
// evaluates in SQL and agenda.Group.CanManage agree on every pair of ranks
// that matters (the bounds, equals, neighbours) in both kinds of group: the
// member's personal full-privacy entry is detailed exactly when the viewer
// manages the member. Flat groups are stored with ranks too, to prove that
// the kind alone rules them out.
func TestGroupAgendaAgreesWithCanManage(t *testing.T) {
	db, _ := mustOpenDB(t)
	ctx := context.Background()
	insertUsers(t, db, user("v", "viewer", "V"), user("m", "member", "M"))
	ranks := []int{agenda.MinRank, agenda.MinRank + 1, 10, agenda.MaxRank - 1, agenda.MaxRank}
	type rankCase struct {
		group  string
		g      agenda.Group
		member int
	}
	var cases []rankCase
	for _, hier := range []bool{false, true} {
		for _, vr := range ranks {
			for _, mr := range ranks {
				id := fmt.Sprintf("g%02d", len(cases))
				cases = append(cases, rankCase{id, agenda.Group{Hierarchical: hier, MyRank: vr}, mr})
				seedGroup(t, db, readmodel.GroupRecord{ID: id, Name: id, CreatorID: "v", Hierarchical: hier, At: at,
					Version: 1, OriginNode: "node-a"}, seedMember{"v", vr, 2}, seedMember{"m", mr, 3})
			}
		}
	}
	start := at.Add(9 * time.Hour)
	bookGroup(t, db, groupBooking{rec: groupAppt("personal", "m", "", agenda.PrivacyFull, agenda.StatusConfirmed,
		start, start.Add(time.Hour)), roles: map[string]string{"m": agenda.RoleOwner}})

	managed := 0
	for _, c := range cases {
		name := fmt.Sprintf("hierarchical=%v/viewer %d/member %d", c.g.Hierarchical, c.g.MyRank, c.member)
		t.Run(name, func(t *testing.T) {
			view, err := db.GroupAgenda(ctx, c.group, "v", start.Add(-time.Hour), start.Add(2*time.Hour))
			if err != nil {
				t.Fatalf("GroupAgenda: %v", err)
			}
			var entries []agenda.GroupAgendaEntry
			for _, m := range view {
				if m.UserID == "m" {
					entries = m.Entries
				}
			}
			if len(entries) != 1 {
				t.Fatalf("member has %d entries, want 1: %+v", len(entries), view)
			}
			got := entries[0].Entry != nil && !entries[0].Busy
			want := c.g.CanManage(c.member)
			if got != want {
				t.Fatalf("SQL shows details = %v, agenda.Group.CanManage = %v", got, want)
			}
			if want {
				managed++
			}
		})
	}
	if managed == 0 || managed == len(cases) {
		t.Fatalf("%d of %d cases managed: the table does not exercise the rule", managed, len(cases))
	}
}
