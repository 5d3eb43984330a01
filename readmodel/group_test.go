package readmodel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// groupFixture stores users boss, mid, peer and low, members of the
// hierarchical group "h" at ranks 1000, 500, 500 and 0; low, mid and boss
// are also members of the flat group "f" (created by low); out is alone in
// the flat group "e".
func groupFixture(t *testing.T) *readmodel.DB {
	t.Helper()
	db, _ := mustOpenDB(t)
	insertUsers(t, db, user("boss", "boss", "Boss"), user("mid", "mid", "Mid"), user("peer", "peer", "Peer"),
		user("low", "low", "Low"), user("out", "out", "Out"))
	seedGroup(t, db, readmodel.GroupRecord{ID: "h", Name: "Hierarchy", Description: "the tree", CreatorID: "boss",
		Hierarchical: true, At: at, Version: 1, OriginNode: "node-g"},
		seedMember{"boss", agenda.MaxRank, 2}, seedMember{"mid", 500, 3}, seedMember{"peer", 500, 4}, seedMember{"low", 0, 5})
	seedGroup(t, db, readmodel.GroupRecord{ID: "f", Name: "Flat", CreatorID: "low", At: at, Version: 1, OriginNode: "node-g"},
		seedMember{"low", 0, 2}, seedMember{"mid", 0, 3}, seedMember{"boss", 0, 4})
	seedGroup(t, db, readmodel.GroupRecord{ID: "e", Name: "Elsewhere", CreatorID: "out", At: at, Version: 1, OriginNode: "node-g"},
		seedMember{"out", 0, 2})
	return db
}

func TestGroup(t *testing.T) {
	ctx := context.Background()
	db := groupFixture(t)

	t.Run("members most senior first, then by username", func(t *testing.T) {
		g, err := db.Group(ctx, "h", "peer")
		if err != nil {
			t.Fatalf("Group(h) as peer: %v", err)
		}
		got := ids(g.Members, func(m agenda.Member) string { return m.UserID })
		if want := []string{"boss", "mid", "peer", "low"}; !equalStrings(got, want) {
			t.Errorf("members = %v, want %v", got, want)
		}
		if g.MyRank != 500 || g.MemberCount != 4 {
			t.Errorf("my_rank/member_count = %d/%d, want 500/4", g.MyRank, g.MemberCount)
		}
		if g.ID != "h" || g.Name != "Hierarchy" || g.Description != "the tree" || !g.Hierarchical || g.CreatorID != "boss" {
			t.Errorf("group = %+v, want h/Hierarchy/the tree, hierarchical, created by boss", g)
		}
		if g.Version != 5 || g.OriginNode != "node-t" || !g.CreatedAt.Equal(at) || !g.UpdatedAt.Equal(at.Add(time.Hour)) {
			t.Errorf("group version/origin/created/updated = %d/%s/%s/%s, want 5/node-t/%s/%s",
				g.Version, g.OriginNode, g.CreatedAt, g.UpdatedAt, at, at.Add(time.Hour))
		}
		m := g.Members[1] // mid
		if m.Username != "mid" || m.DisplayName != "Mid" || m.Rank != 500 || m.Version != 1 || m.OriginNode != "node-m" || !m.JoinedAt.Equal(at.Add(time.Minute)) {
			t.Errorf("member mid = %+v, want rank 500, version 1 (its first change), node-m, joined %s", m, at.Add(time.Minute))
		}
	})

	t.Run("my_rank is the viewer's", func(t *testing.T) {
		for viewer, want := range map[string]int{"boss": agenda.MaxRank, "mid": 500, "low": 0} {
			g, err := db.Group(ctx, "h", viewer)
			if err != nil {
				t.Fatalf("Group(h) as %s: %v", viewer, err)
			}
			if g.MyRank != want {
				t.Errorf("my_rank of %s = %d, want %d", viewer, g.MyRank, want)
			}
		}
	})

	t.Run("a non-member cannot tell a group from a missing one", func(t *testing.T) {
		_, hidden := db.Group(ctx, "h", "out")
		_, missing := db.Group(ctx, "nope", "out")
		for name, err := range map[string]error{"hidden": hidden, "missing": missing} {
			if code := agenda.ErrorCode(err); code != agenda.ENOTFOUND {
				t.Errorf("%s: code %q (%v), want not_found", name, code, err)
			}
		}
		if agenda.ErrorMessage(hidden) != agenda.ErrorMessage(missing) || agenda.ErrorMessage(hidden) != "group not found" {
			t.Errorf("messages %q and %q, want both %q", agenda.ErrorMessage(hidden), agenda.ErrorMessage(missing), "group not found")
		}
	})

	t.Run("a rank change and a removal show", func(t *testing.T) {
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			if err := tx.SetMember("h", "low", 900, at.Add(48*time.Hour), "node-r"); err != nil {
				return err
			}
			return tx.RemoveMember("h", "peer")
		})
		g, err := db.Group(ctx, "h", "boss")
		if err != nil {
			t.Fatalf("Group(h): %v", err)
		}
		got := ids(g.Members, func(m agenda.Member) string { return m.UserID })
		if want := []string{"boss", "low", "mid"}; !equalStrings(got, want) {
			t.Errorf("members = %v, want %v", got, want)
		}
		low := g.Members[1]
		if low.Rank != 900 || low.Version != 2 || low.OriginNode != "node-r" || !low.JoinedAt.Equal(at.Add(3*time.Minute)) {
			t.Errorf("low = %+v, want rank 900 version 2 (one change since it began) node-r, joined_at unchanged", low)
		}
		if _, err := db.Group(ctx, "h", "peer"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
			t.Errorf("Group(h) as removed peer: %v, want not_found", err)
		}
	})

	t.Run("a deleted group is gone", func(t *testing.T) {
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error { return tx.DeleteGroup("e") })
		if _, err := db.Group(ctx, "e", "out"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
			t.Errorf("Group(e) after delete: %v, want not_found", err)
		}
		gs, err := db.GroupsOf(ctx, "out")
		if err != nil || len(gs) != 0 {
			t.Errorf("GroupsOf(out) = %v, %v; want none", gs, err)
		}
	})
}

func TestGroupsOf(t *testing.T) {
	ctx := context.Background()
	db := groupFixture(t)
	for _, tc := range []struct {
		user      string
		want      []string // by name
		wantRanks []int
		wantCount []int
	}{
		{user: "mid", want: []string{"f", "h"}, wantRanks: []int{0, 500}, wantCount: []int{3, 4}},
		{user: "peer", want: []string{"h"}, wantRanks: []int{500}, wantCount: []int{4}},
		{user: "nobody", want: []string{}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			gs, err := db.GroupsOf(ctx, tc.user)
			if err != nil {
				t.Fatalf("GroupsOf(%s): %v", tc.user, err)
			}
			if gs == nil {
				t.Error("GroupsOf returned nil, want an empty list")
			}
			if got := ids(gs, func(g agenda.Group) string { return g.ID }); !equalStrings(got, tc.want) {
				t.Fatalf("groups = %v, want %v", got, tc.want)
			}
			for i, g := range gs {
				if g.MyRank != tc.wantRanks[i] || g.MemberCount != tc.wantCount[i] {
					t.Errorf("%s my_rank/member_count = %d/%d, want %d/%d", g.ID, g.MyRank, g.MemberCount, tc.wantRanks[i], tc.wantCount[i])
				}
				if g.Members != nil {
					t.Errorf("%s lists members %v, want none in a list of groups", g.ID, g.Members)
				}
				if g.Version == 0 || g.OriginNode != "node-t" {
					t.Errorf("%s version/origin = %d/%q, want set", g.ID, g.Version, g.OriginNode)
				}
			}
		})
	}
}

// TestGroupsOfIsBounded: nothing caps how many groups one may be in, and
// an attacker's review made one list 24 MB; the list holds the first
// ListCap by name, so that a read costs what it returns.
func TestGroupsOfIsBounded(t *testing.T) {
	db, _ := mustOpenDB(t)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		for i := range readmodel.ListCap + 1 {
			id := fmt.Sprintf("g%04d", i)
			if err := tx.InsertGroup(readmodel.GroupRecord{ID: id, Name: id, CreatorID: "many", At: at, Version: 1, OriginNode: "node-t"}); err != nil {
				return err
			}
			if err := tx.SetMember(id, "many", 0, at, "node-m"); err != nil {
				return err
			}
		}
		return nil
	})
	gs, err := db.GroupsOf(context.Background(), "many")
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != readmodel.ListCap || gs[0].ID != "g0000" || gs[len(gs)-1].ID != fmt.Sprintf("g%04d", readmodel.ListCap-1) {
		t.Fatalf("GroupsOf lists %d groups, want the first %d by name", len(gs), readmodel.ListCap)
	}
}

func TestGroupAgendaMasking(t *testing.T) {
	ctx := context.Background()
	db := groupFixture(t)
	day := at.Add(24 * time.Hour)
	hr := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }
	full, fb := agenda.PrivacyFull, agenda.PrivacyFreeBusy
	owner := agenda.RoleOwner
	bookGroup(t, db,
		groupBooking{groupAppt("mid-full", "mid", "", full, agenda.StatusConfirmed, hr(9), hr(10)), map[string]string{"mid": owner}},
		groupBooking{groupAppt("mid-fb", "mid", "", fb, agenda.StatusConfirmed, hr(10), hr(11)), map[string]string{"mid": owner}},
		groupBooking{groupAppt("boss-full", "boss", "", full, agenda.StatusConfirmed, hr(11), hr(12)), map[string]string{"boss": owner}},
		groupBooking{groupAppt("low-full", "low", "", full, agenda.StatusConfirmed, hr(12), hr(13)), map[string]string{"low": owner}},
		// A freebusy group appointment of mid's that low declined and peer
		// accepted: peer takes part and sees it in full; low, having
		// declined, takes no part and sees busy time.
		groupBooking{groupAppt("mid-shared", "mid", "h", fb, agenda.StatusConfirmed, hr(13), hr(14)),
			map[string]string{"mid": owner, "low": agenda.RoleDeclined, "peer": agenda.RoleAccepted}},
		// boss's imposed appointment on low, freebusy.
		groupBooking{groupAppt("boss-imposed", "boss", "h", fb, agenda.StatusConfirmed, hr(14), hr(15)),
			map[string]string{"boss": owner, "low": agenda.RoleAuto}},
		// An invitation mid has not answered does not block and never shows.
		groupBooking{groupAppt("mid-invited", "peer", "h", full, agenda.StatusConfirmed, hr(15), hr(16)),
			map[string]string{"peer": owner, "mid": agenda.RolePending}},
		// Outside the window.
		groupBooking{groupAppt("mid-later", "mid", "", full, agenda.StatusConfirmed, hr(30), hr(31)), map[string]string{"mid": owner}},
	)
	from, to := day, day.Add(24*time.Hour)

	tests := []struct {
		name                 string
		group, viewer        string
		member, appointment  string
		wantDetails          bool
		wantMyStatus, wantGp string // when detailed
	}{
		{name: "member sees their own freebusy entry", group: "h", viewer: "mid", member: "mid", appointment: "mid-fb", wantDetails: true, wantMyStatus: owner},
		{name: "participant who declined (a participant row, no entry) takes no part: busy only", group: "h", viewer: "low", member: "mid", appointment: "mid-shared"},
		{name: "participant (accepted peer) sees it in the organiser's agenda", group: "h", viewer: "peer", member: "mid", appointment: "mid-shared",
			wantDetails: true, wantMyStatus: owner, wantGp: "h"},
		{name: "participant sees it in their own agenda", group: "h", viewer: "peer", member: "peer", appointment: "mid-shared",
			wantDetails: true, wantMyStatus: agenda.RoleAccepted, wantGp: "h"},
		{name: "pending invitee (a peer) sees the organiser's entry", group: "h", viewer: "mid", member: "peer", appointment: "mid-invited",
			wantDetails: true, wantMyStatus: owner, wantGp: "h"},
		{name: "superior sees full details", group: "h", viewer: "boss", member: "mid", appointment: "mid-full", wantDetails: true, wantMyStatus: owner},
		{name: "superior two ranks up sees full details", group: "h", viewer: "boss", member: "low", appointment: "low-full", wantDetails: true, wantMyStatus: owner},
		{name: "superior does not see freebusy", group: "h", viewer: "boss", member: "mid", appointment: "mid-fb"},
		{name: "superior sees an appointment they organise in a subordinate's agenda", group: "h", viewer: "boss", member: "low", appointment: "boss-imposed",
			wantDetails: true, wantMyStatus: agenda.RoleAuto, wantGp: "h"},
		{name: "superior of a participant does not see a freebusy group appointment", group: "h", viewer: "mid", member: "low", appointment: "boss-imposed"},
		{name: "peer does not see full", group: "h", viewer: "peer", member: "mid", appointment: "mid-full"},
		{name: "subordinate does not see a superior's full", group: "h", viewer: "low", member: "boss", appointment: "boss-full"},
		{name: "subordinate does not see a superior's full (one rank up)", group: "h", viewer: "low", member: "mid", appointment: "mid-full"},
		{name: "flat: nobody outranks (creator)", group: "f", viewer: "low", member: "mid", appointment: "mid-full"},
		{name: "flat: nobody outranks (rank 1000 elsewhere)", group: "f", viewer: "boss", member: "low", appointment: "low-full"},
		{name: "flat: member still sees their own", group: "f", viewer: "boss", member: "boss", appointment: "boss-full", wantDetails: true, wantMyStatus: owner},
		{name: "flat: participant who declined sees busy only", group: "f", viewer: "low", member: "mid", appointment: "mid-shared"},
	}
	views := map[string][]agenda.MemberAgenda{}
	view := func(t *testing.T, group, viewer string) []agenda.MemberAgenda {
		t.Helper()
		key := group + "/" + viewer
		if v, ok := views[key]; ok {
			return v
		}
		v, err := db.GroupAgenda(ctx, group, viewer, from, to)
		if err != nil {
			t.Fatalf("GroupAgenda(%s) as %s: %v", group, viewer, err)
		}
		views[key] = v
		return v
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var entry *agenda.GroupAgendaEntry
			for _, m := range view(t, tc.group, tc.viewer) {
				if m.UserID != tc.member {
					continue
				}
				for i, e := range m.Entries {
					if (e.Entry != nil && e.AppointmentID == tc.appointment) ||
						(e.Entry == nil && e.Start.Equal(start(t, db, tc.appointment))) {
						entry = &m.Entries[i]
					}
				}
			}
			if entry == nil {
				t.Fatalf("no entry for %s in %s's agenda", tc.appointment, tc.member)
			}
			if !tc.wantDetails {
				if entry.Entry != nil || !entry.Busy {
					t.Errorf("entry = busy %v, details %+v; want masked (busy, no details)", entry.Busy, entry.Entry)
				}
				b, err := json.Marshal(entry)
				if err != nil {
					t.Fatal(err)
				}
				var fields map[string]any
				if err := json.Unmarshal(b, &fields); err != nil {
					t.Fatal(err)
				}
				if len(fields) != 3 || fields["busy"] != true || fields["start"] == nil || fields["end"] == nil {
					t.Errorf("masked entry JSON = %s, want only start, end, busy:true", b)
				}
				return
			}
			if entry.Entry == nil || entry.Busy {
				t.Fatalf("entry = busy %v, no details; want details", entry.Busy)
			}
			b, err := json.Marshal(entry)
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]any
			if err := json.Unmarshal(b, &fields); err != nil {
				t.Fatal(err)
			}
			if fields["busy"] != false || fields["appointment_id"] != tc.appointment || fields["title"] != "Title "+tc.appointment ||
				fields["my_status"] != tc.wantMyStatus || fields["start"] == nil || fields["end"] == nil {
				t.Errorf("detailed entry JSON = %s, want busy:false with the appointment's fields", b)
			}
			e := entry.Entry
			if e.AppointmentID != tc.appointment || !strings.HasPrefix(e.Title, "Title ") || e.MyStatus != tc.wantMyStatus || e.Pending {
				t.Errorf("details = %+v, want %s with title, my_status %s, not pending", e, tc.appointment, tc.wantMyStatus)
			}
			if gp := e.GroupID; (tc.wantGp == "") != (gp == nil) || (gp != nil && *gp != tc.wantGp) {
				t.Errorf("group_id = %v, want %q", gp, tc.wantGp)
			}
			if !e.Start.Equal(entry.Start) || !e.End.Equal(entry.End) || e.Status != agenda.StatusConfirmed || e.Version != 1 || e.OriginNode != "node-a" {
				t.Errorf("details = %+v, want the entry's interval, status confirmed, version 1 from node-a", e)
			}
			wantPrivacy := full
			if strings.Contains(tc.appointment, "fb") || tc.appointment == "mid-shared" || tc.appointment == "boss-imposed" {
				wantPrivacy = fb
			}
			if e.Description != "Desc "+tc.appointment || e.Location != "Loc "+tc.appointment || e.Title != "Title "+tc.appointment || e.Privacy != wantPrivacy {
				t.Errorf("details = %q/%q/%q/%s, want the appointment's title, description, location and privacy %s",
					e.Title, e.Description, e.Location, e.Privacy, wantPrivacy)
			}
		})
	}

	t.Run("members by rank, blocking entries only, by start", func(t *testing.T) {
		v := view(t, "h", "boss")
		got := ids(v, func(m agenda.MemberAgenda) string { return m.UserID })
		if want := []string{"boss", "mid", "peer", "low"}; !equalStrings(got, want) {
			t.Fatalf("members = %v, want %v", got, want)
		}
		starts := map[string][]int{}
		for _, m := range v {
			if m.Entries == nil {
				t.Errorf("%s's entries are nil, want a list", m.UserID)
			}
			if m.Username != m.UserID || m.DisplayName != strings.ToUpper(m.UserID[:1])+m.UserID[1:] {
				t.Errorf("username and display name of %s = %q, %q", m.UserID, m.Username, m.DisplayName)
			}
			for _, e := range m.Entries {
				starts[m.UserID] = append(starts[m.UserID], int(e.Start.Sub(day)/time.Hour))
			}
		}
		want := map[string][]int{"boss": {11, 14}, "mid": {9, 10, 13}, "peer": {13, 15}, "low": {12, 14}}
		for u, w := range want {
			if g := starts[u]; len(g) != len(w) || (len(g) > 0 && !equalInts(g, w)) {
				t.Errorf("%s's entries start at %v h, want %v (no pending, none outside the window)", u, g, w)
			}
		}
	})

	t.Run("a member with no entries is listed empty", func(t *testing.T) {
		v, err := db.GroupAgenda(ctx, "h", "boss", day.Add(-48*time.Hour), day.Add(-24*time.Hour))
		if err != nil {
			t.Fatalf("GroupAgenda: %v", err)
		}
		if len(v) != 4 {
			t.Fatalf("members = %d, want 4", len(v))
		}
		for _, m := range v {
			if m.Entries == nil || len(m.Entries) != 0 {
				t.Errorf("%s's entries = %v, want an empty list", m.UserID, m.Entries)
			}
		}
	})

	t.Run("non-member and missing group are not_found alike", func(t *testing.T) {
		_, hidden := db.GroupAgenda(ctx, "h", "out", from, to)
		_, missing := db.GroupAgenda(ctx, "nope", "boss", from, to)
		for name, err := range map[string]error{"non-member": hidden, "missing": missing} {
			if code := agenda.ErrorCode(err); code != agenda.ENOTFOUND || agenda.ErrorMessage(err) != "group not found" {
				t.Errorf("%s: %q %q, want not_found %q", name, code, agenda.ErrorMessage(err), "group not found")
			}
		}
	})

	t.Run("GroupBusy lists every member's blocking time", func(t *testing.T) {
		busy, err := db.GroupBusy(ctx, "h", "low", from, to)
		if err != nil {
			t.Fatalf("GroupBusy: %v", err)
		}
		got := map[int]int{}
		for _, b := range busy {
			got[int(b.Start.Sub(day)/time.Hour)]++
		}
		// 13h is booked by mid and peer, 14h by boss and low, 15h by peer
		// only (mid's invitation does not block); 30h is outside.
		want := map[int]int{9: 1, 10: 1, 11: 1, 12: 1, 13: 2, 14: 2, 15: 1}
		if len(got) != len(want) {
			t.Errorf("busy = %v, want starts %v", busy, want)
		}
		for h, n := range want {
			if got[h] != n {
				t.Errorf("intervals starting at %dh = %d, want %d (busy %v)", h, got[h], n, busy)
			}
		}
		free := agenda.FreeSlots(busy, hr(8), hr(17), time.Hour)
		if len(free) != 2 || !free[0].Start.Equal(hr(8)) || !free[1].Start.Equal(hr(16)) {
			t.Errorf("free slots = %v, want 8–9 and 16–17", free)
		}
	})

	t.Run("GroupBusy: non-member is not_found, an empty window is empty", func(t *testing.T) {
		if _, err := db.GroupBusy(ctx, "h", "out", from, to); agenda.ErrorCode(err) != agenda.ENOTFOUND {
			t.Errorf("GroupBusy as out: %v, want not_found", err)
		}
		if _, err := db.GroupBusy(ctx, "nope", "boss", from, to); agenda.ErrorCode(err) != agenda.ENOTFOUND {
			t.Errorf("GroupBusy of a missing group: %v, want not_found", err)
		}
		busy, err := db.GroupBusy(ctx, "f", "low", day.Add(-48*time.Hour), day.Add(-24*time.Hour))
		if err != nil || busy == nil || len(busy) != 0 {
			t.Errorf("GroupBusy of an empty window = %v, %v; want an empty list", busy, err)
		}
	})
}

// start returns the start of appointment id.
func start(t *testing.T, db *readmodel.DB, id string) time.Time {
	t.Helper()
	var s time.Time
	err := db.Apply(context.Background(), readmodel.ProjectionPlanning, db.Checkpoint(readmodel.ProjectionPlanning),
		db.Checkpoint(readmodel.ProjectionPlanning), func(tx *readmodel.Tx) error {
			a, err := tx.AppointmentInfo(id)
			s = a.Start
			return err
		})
	if err != nil {
		t.Fatalf("read appointment %s: %v", id, err)
	}
	return s
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The group agenda lists the members most senior first, then by username,
// and each member's entries by start, then appointment ID, whatever order
// they were stored in.
func TestGroupAgendaOrder(t *testing.T) {
	ctx := context.Background()
	db := groupFixture(t)
	day := at.Add(24 * time.Hour)
	hr := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }
	full, owner := agenda.PrivacyFull, agenda.RoleOwner
	bookGroup(t, db,
		groupBooking{groupAppt("low-late", "low", "", full, agenda.StatusConfirmed, hr(15), hr(16)), map[string]string{"low": owner}},
		groupBooking{groupAppt("mid-c", "mid", "", full, agenda.StatusConfirmed, hr(12), hr(13)), map[string]string{"mid": owner}},
		groupBooking{groupAppt("mid-b", "mid", "", full, agenda.StatusConfirmed, hr(9), hr(10)), map[string]string{"mid": owner}},
		groupBooking{groupAppt("mid-a", "mid", "", full, agenda.StatusConfirmed, hr(9), hr(11)), map[string]string{"mid": owner}},
		groupBooking{groupAppt("low-early", "low", "", full, agenda.StatusConfirmed, hr(8), hr(9)), map[string]string{"low": owner}},
	)
	got, err := db.GroupAgenda(ctx, "h", "boss", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatalf("GroupAgenda: %v", err)
	}
	members := ids(got, func(m agenda.MemberAgenda) string { return m.UserID })
	if want := []string{"boss", "mid", "peer", "low"}; !equalStrings(members, want) {
		t.Fatalf("members = %v, want %v (rank, then username)", members, want)
	}
	entries := func(m agenda.MemberAgenda) []string {
		return ids(m.Entries, func(e agenda.GroupAgendaEntry) string {
			if e.Entry == nil {
				return "busy"
			}
			return e.Entry.AppointmentID
		})
	}
	if got, want := entries(got[1]), []string{"mid-a", "mid-b", "mid-c"}; !equalStrings(got, want) {
		t.Errorf("mid's entries = %v, want %v (start, then appointment ID)", got, want)
	}
	if got, want := entries(got[3]), []string{"low-early", "low-late"}; !equalStrings(got, want) {
		t.Errorf("low's entries = %v, want %v", got, want)
	}
}

func TestPendingGroupAppointments(t *testing.T) {
	ctx := context.Background()
	db := groupFixture(t)
	t0 := at.Add(24 * time.Hour)
	mk := func(id, group, status string) groupBooking {
		return groupBooking{groupAppt(id, "low", group, agenda.PrivacyFull, status, t0, t0.Add(time.Hour)),
			map[string]string{"low": agenda.RoleOwner}}
	}
	// In a hierarchical group, an appointment set for those ranked above
	// is confirmed and waits for their answers: a review found such a
	// group deleted with its invitations left open for ever.
	invites := func(b groupBooking, roles map[string]string) groupBooking {
		for u, r := range roles {
			b.roles[u] = r
		}
		return b
	}
	bookGroup(t, db, mk("p1", "f", agenda.StatusPending), mk("p2", "f", agenda.StatusPending),
		mk("c1", "f", agenda.StatusConfirmed), mk("x1", "f", agenda.StatusCancelled), mk("p3", "h", agenda.StatusPending),
		invites(mk("h1", "h", agenda.StatusConfirmed), map[string]string{"boss": agenda.RolePending}),
		invites(mk("h2", "h", agenda.StatusConfirmed), map[string]string{"boss": agenda.RoleAccepted}),
		invites(mk("h3", "h", agenda.StatusCancelled), map[string]string{"boss": agenda.RolePending}))
	for group, want := range map[string]int{"f": 2, "h": 2, "e": 0, "nope": 0} {
		n, err := db.PendingGroupAppointments(ctx, group, at)
		if err != nil {
			t.Fatalf("PendingGroupAppointments(%s): %v", group, err)
		}
		if n != want {
			t.Errorf("PendingGroupAppointments(%s) = %d, want %d", group, n, want)
		}
	}
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.SetAppointmentStatus("p1", agenda.StatusConfirmed, t0, 2, "node-a")
	})
	if n, _ := db.PendingGroupAppointments(ctx, "f", at); n != 1 {
		t.Errorf("after confirming p1: %d pending, want 1", n)
	}
	// An unanswered invitation to an appointment that has ended waits for
	// nothing: a review found a group kept for ever by one to last year's
	// meeting that only its organiser, long gone, could cancel. (A flat
	// group's pending appointment counts as the API always counted it.)
	for group, want := range map[string]int{"f": 1, "h": 1} {
		if n, _ := db.PendingGroupAppointments(ctx, group, t0.Add(time.Hour)); n != want {
			t.Errorf("PendingGroupAppointments(%s) once they ended = %d, want %d", group, n, want)
		}
	}
	// Unless its organiser is no longer a member: leaving cancels only the
	// appointments still to come, and nobody else may cancel an ended one.
	// An attacker's review removed a member whose flat appointments of 2021
	// were pending, and the group could not be deleted until its creator
	// declined each.
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error { return tx.RemoveMember("f", "low") })
	if n, _ := db.PendingGroupAppointments(ctx, "f", t0.Add(time.Hour)); n != 0 {
		t.Errorf("PendingGroupAppointments(f) once ended, its organiser gone = %d, want 0", n)
	}
	if n, _ := db.PendingGroupAppointments(ctx, "f", at); n != 1 {
		t.Errorf("PendingGroupAppointments(f) before it ends, its organiser gone = %d, want 1", n)
	}
}

func TestInvitations(t *testing.T) {
	ctx := context.Background()
	db := groupFixture(t)
	t0 := at.Add(24 * time.Hour)
	mk := func(id string, offset int, status, midRole string) groupBooking {
		s := t0.Add(time.Duration(offset) * time.Hour)
		return groupBooking{groupAppt(id, "low", "f", agenda.PrivacyFull, status, s, s.Add(time.Hour)),
			map[string]string{"low": agenda.RoleOwner, "mid": midRole, "boss": agenda.RolePending}}
	}
	bookGroup(t, db,
		mk("later", 5, agenda.StatusPending, agenda.RolePending),
		mk("sooner", 1, agenda.StatusPending, agenda.RolePending),
		mk("confirmed", 3, agenda.StatusConfirmed, agenda.RolePending), // hierarchical-style invitation
		mk("cancelled", 2, agenda.StatusCancelled, agenda.RolePending),
		mk("accepted", 4, agenda.StatusPending, agenda.RoleAccepted),
		mk("declined", 6, agenda.StatusPending, agenda.RoleDeclined),
	)
	inv, err := db.Invitations(ctx, "mid", at)
	if err != nil {
		t.Fatalf("Invitations(mid): %v", err)
	}
	got := ids(inv, func(a agenda.Appointment) string { return a.ID })
	if want := []string{"sooner", "confirmed", "later"}; !equalStrings(got, want) {
		t.Fatalf("invitations = %v, want %v (by start, cancelled/answered left out)", got, want)
	}
	for _, a := range inv {
		if a.MyStatus != agenda.RolePending || len(a.Participants) != 3 || a.GroupID == nil || *a.GroupID != "f" {
			t.Errorf("%s: my_status %s, %d participants, group %v; want pending, 3, f", a.ID, a.MyStatus, len(a.Participants), a.GroupID)
		}
	}
	if a := inv[0]; !a.NeedsAll || a.Version != 1 || a.OriginNode != "node-a" {
		t.Errorf("sooner: needs_all %v version %d origin %q, want true/1/node-a", a.NeedsAll, a.Version, a.OriginNode)
	}
	// Those that have not ended come first: an attacker's review filled a
	// member's list with 1,000 invitations of 2020, oldest first, and a
	// real one no longer appeared in it.
	inv, _ = db.Invitations(ctx, "mid", t0.Add(3*time.Hour+30*time.Minute))
	if got, want := ids(inv, func(a agenda.Appointment) string { return a.ID }), []string{"confirmed", "later", "sooner"}; !equalStrings(got, want) {
		t.Errorf("invitations once sooner has ended and confirmed is under way = %v, want %v", got, want)
	}
	for _, u := range []string{"low", "out"} {
		inv, err := db.Invitations(ctx, u, at)
		if err != nil || inv == nil || len(inv) != 0 {
			t.Errorf("Invitations(%s) = %v, %v; want an empty list", u, inv, err)
		}
	}
	// Participants rows carry the appointment's version.
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		if err := tx.SetParticipant("sooner", "mid", agenda.RoleAccepted, 7, "node-z"); err != nil {
			return err
		}
		return tx.TouchAppointment("sooner", t0, 7, "node-z")
	})
	a, err := db.Appointment(ctx, "sooner", "mid")
	if err != nil {
		t.Fatalf("Appointment(sooner): %v", err)
	}
	if a.MyStatus != agenda.RoleAccepted || a.Version != 7 || a.OriginNode != "node-z" {
		t.Errorf("sooner after answering: %s v%d %s, want accepted v7 node-z", a.MyStatus, a.Version, a.OriginNode)
	}
	inv, _ = db.Invitations(ctx, "mid", at)
	if got := ids(inv, func(a agenda.Appointment) string { return a.ID }); !equalStrings(got, []string{"confirmed", "later"}) {
		t.Errorf("invitations after accepting sooner = %v, want [confirmed later]", got)
	}
}

// Every agenda read is bounded by agenda.MaxAgendaEntries, whatever is
// stored: a review filled a year of a 40-member group's agenda with 61,500
// entries, and one read took 400 MB. The bound holds for the members'
// entries together, and a window holding more is refused (before the API
// answers anything: it writes once the read is over).
func TestAgendaReadsAreBounded(t *testing.T) {
	ctx := context.Background()
	db := groupFixture(t)
	day := at.Add(24 * time.Hour)
	from, to := day, day.Add(30*24*time.Hour)
	max := agenda.MaxAgendaEntries
	slot := func(owner string, i int) groupBooking {
		start := day.Add(time.Duration(i) * 2 * time.Minute)
		return groupBooking{groupAppt(fmt.Sprintf("%s-%05d", owner, i), owner, "", agenda.PrivacyFull, agenda.StatusConfirmed,
			start, start.Add(time.Minute)), map[string]string{owner: agenda.RoleOwner}}
	}
	// low holds max-1 entries, mid one: the group's agenda holds max.
	var bs []groupBooking
	for i := range max - 1 {
		bs = append(bs, slot("low", i))
	}
	bookGroup(t, db, append(bs, slot("mid", 0))...)

	tooMany := func(what string, err error) {
		t.Helper()
		var e *agenda.Error
		if !errors.As(err, &e) || e.Code != agenda.EINVALID || e.Details["max_entries"] != max {
			t.Errorf("%s past the bound: %v, want %v", what, err, agenda.AgendaTooLarge())
		}
	}
	if got, err := db.Agenda(ctx, "low", from, to); err != nil || len(got) != max-1 {
		t.Fatalf("low's agenda: %d entries (%v), want %d", len(got), err, max-1)
	}
	if got, err := db.GroupAgenda(ctx, "h", "boss", from, to); err != nil {
		t.Fatalf("the group's agenda at the bound: %v", err)
	} else if n := len(got[1].Entries) + len(got[3].Entries); n != max {
		t.Fatalf("the group's agenda at the bound holds %d entries, want %d", n, max)
	}
	if got, err := db.GroupBusy(ctx, "h", "boss", from, to); err != nil || len(got) != max {
		t.Fatalf("the group's busy time at the bound: %d intervals (%v), want %d", len(got), err, max)
	}

	// One more, in peer's agenda: the group's reads are refused.
	bookGroup(t, db, slot("peer", 0))
	_, err := db.GroupAgenda(ctx, "h", "boss", from, to)
	tooMany("the group's agenda", err)
	_, err = db.GroupBusy(ctx, "h", "boss", from, to)
	tooMany("the group's busy time", err)
	// And two more in low's own: so is low's agenda, met at the entry
	// past the bound (what fn built is to be thrown away).
	bookGroup(t, db, slot("low", max-1), slot("low", max))
	called := 0
	err = db.EachAgendaEntry(ctx, "low", from, to, func(*agenda.Entry) error { called++; return nil })
	tooMany("low's agenda", err)
	if called != max {
		t.Errorf("a window past the bound handed over %d entries, want the %d before the one past it", called, max)
	}
	// A shorter window reads as ever.
	if got, err := db.Agenda(ctx, "low", from, from.Add(24*time.Hour)); err != nil || len(got) != 720 {
		t.Errorf("one day of low's agenda: %d entries (%v), want 720", len(got), err)
	}
}
