package readmodel_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// An invited person is listed to members as invited, but is no member:
// they see nothing of the group and count nowhere.
func TestInvitedIsNoMember(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	insertUsers(t, db, user("boss", "boss", "Boss"), user("ivy", "ivy", "Ivy"), user("low", "low", "Low"))
	seedGroup(t, db, readmodel.GroupRecord{ID: "g", Name: "Team", CreatorID: "boss", Hierarchical: true, At: at, Version: 1, OriginNode: "n"},
		seedMember{"boss", agenda.MaxRank, 2}, seedMember{"low", 0, 3})
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		if err := tx.InviteMember("g", "ivy", 10, "boss", at.Add(time.Hour), "n"); err != nil {
			return err
		}
		return tx.TouchGroup("g", at.Add(time.Hour), 4, "n")
	})
	start := at.Add(24 * time.Hour)
	book(t, db, booking{id: "ivy-busy", owner: "ivy", start: start, end: start.Add(time.Hour)})

	g, err := db.Group(ctx, "g", "boss")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range g.Members {
		got = append(got, m.Username+":"+m.Status)
	}
	if want := []string{"boss:active", "low:active", "ivy:invited"}; !equalStrings(got, want) || g.MemberCount != 2 {
		t.Fatalf("members = %v (count %d), want %v (count 2)", got, g.MemberCount, want)
	}
	if _, err := db.Group(ctx, "g", "ivy"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("Group as the invited person: %v, want not found", err)
	}
	if gs, err := db.GroupsOf(ctx, "ivy"); err != nil || len(gs) != 0 {
		t.Fatalf("GroupsOf(ivy) = %v, %v; want none", gs, err)
	}
	if gs, err := db.GroupsOf(ctx, "boss"); err != nil || len(gs) != 1 || gs[0].MemberCount != 2 {
		t.Fatalf("GroupsOf(boss) = %+v, %v; want g with 2 members", gs, err)
	}
	if _, err := db.GroupAgenda(ctx, "g", "ivy", start, start.Add(time.Hour)); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("GroupAgenda as the invited person: %v, want not found", err)
	}
	view, err := db.GroupAgenda(ctx, "g", "boss", start, start.Add(time.Hour))
	if err != nil || len(view) != 2 {
		t.Fatalf("GroupAgenda = %+v, %v; want boss and low only", view, err)
	}
	busy, err := db.GroupBusy(ctx, "g", "boss", start, start.Add(time.Hour))
	if err != nil || len(busy) != 0 {
		t.Fatalf("GroupBusy = %v, %v; want nothing (ivy's time does not count)", busy, err)
	}
	if _, err := db.GroupBusy(ctx, "g", "ivy", start, start.Add(time.Hour)); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("GroupBusy as the invited person: %v, want not found", err)
	}

	// The invitation names who invited, as they are called when it is read.
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.UpdateUserProfile("boss", "Big Boss", "", at, 2, "n")
	})
	invs, err := db.GroupInvitations(ctx, "ivy")
	want := agenda.GroupInvitation{GroupID: "g", Name: "Team", Hierarchical: true, Rank: 10, InvitedBy: "boss",
		Inviter:   &agenda.UserSummary{ID: "boss", Username: "boss", DisplayName: "Big Boss"},
		InvitedAt: at.Add(time.Hour), GroupVersion: 4, MemberVersion: 1}
	if err != nil || len(invs) != 1 || !reflect.DeepEqual(invs[0], want) {
		t.Fatalf("GroupInvitations = %+v, %v; want %+v", invs, err, want)
	}
	if inv, err := db.GroupInvitation(ctx, "g", "ivy"); err != nil || !reflect.DeepEqual(inv, want) {
		t.Fatalf("GroupInvitation = %+v, %v", inv, err)
	}
	if _, err := db.GroupInvitation(ctx, "g", "low"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("GroupInvitation of a member: %v, want not found", err)
	}

	// Accepting makes her a member, joined when she accepted.
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.ActivateMember("g", "ivy", at.Add(2*time.Hour), "n")
	})
	g, err = db.Group(ctx, "g", "ivy")
	if err != nil || g.MyRank != 10 || g.MemberCount != 3 {
		t.Fatalf("Group as ivy after accepting = %+v, %v", g, err)
	}
	if invs, _ := db.GroupInvitations(ctx, "ivy"); len(invs) != 0 {
		t.Fatalf("invitations left after accepting: %+v", invs)
	}
	if busy, _ := db.GroupBusy(ctx, "g", "boss", start, start.Add(time.Hour)); len(busy) != 1 {
		t.Fatalf("GroupBusy after accepting = %v, want ivy's hour", busy)
	}
}

// TestMembershipVersionsCountOnAcrossEndings: a membership's version is its
// own count of changes, and a new membership of the same person counts on
// from where the last one ended, so an ETag of an ended membership never
// names the next one; a deleted group forgets its ended memberships.
func TestMembershipVersionsCountOnAcrossEndings(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	insertUsers(t, db, user("boss", "boss", "Boss"), user("ivy", "ivy", "Ivy"))
	seedGroup(t, db, readmodel.GroupRecord{ID: "g", Name: "Team", CreatorID: "boss", Hierarchical: true, At: at, Version: 1, OriginNode: "n"},
		seedMember{"boss", agenda.MaxRank, 1})
	version := func(want int64, step string) {
		t.Helper()
		g, err := db.Group(ctx, "g", "boss")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range g.Members {
			if m.UserID == "ivy" {
				if m.Version != want {
					t.Errorf("%s: ivy's membership at version %d, want %d", step, m.Version, want)
				}
				return
			}
		}
		t.Errorf("%s: ivy is not listed", step)
	}
	ended := func(want int64, step string) {
		t.Helper()
		if v, err := db.EndedMembershipVersion(ctx, "g", "ivy"); err != nil || v != want {
			t.Errorf("%s: EndedMembershipVersion = %d, %v; want %d", step, v, err, want)
		}
	}
	apply := func(fn func(tx *readmodel.Tx) error) { mustApply(t, db, readmodel.ProjectionPlanning, fn) }

	ended(0, "never a member")
	apply(func(tx *readmodel.Tx) error { return tx.InviteMember("g", "ivy", 10, "boss", at, "n") })
	version(1, "invited")
	apply(func(tx *readmodel.Tx) error { return tx.ActivateMember("g", "ivy", at, "n") })
	version(2, "accepted")
	apply(func(tx *readmodel.Tx) error { return tx.SetMember("g", "ivy", 20, at, "n") })
	version(3, "re-ranked")
	apply(func(tx *readmodel.Tx) error { return tx.RemoveMember("g", "ivy") })
	ended(3, "removed")
	apply(func(tx *readmodel.Tx) error { return tx.InviteMember("g", "ivy", 10, "boss", at, "n") })
	version(4, "invited again")
	apply(func(tx *readmodel.Tx) error { return tx.RemoveMember("g", "ivy") }) // declined
	ended(4, "declined")
	apply(func(tx *readmodel.Tx) error { return tx.SetMember("g", "ivy", 10, at, "n") }) // a log from before invitations
	version(5, "added")
	apply(func(tx *readmodel.Tx) error { return tx.DeleteGroup("g") })
	ended(0, "group deleted")
}

func TestGroupParticipations(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	insertUsers(t, db, user("boss", "boss", "Boss"), user("low", "low", "Low"))
	seedGroup(t, db, readmodel.GroupRecord{ID: "g", Name: "Team", CreatorID: "boss", Hierarchical: true, At: at, Version: 1, OriginNode: "n"},
		seedMember{"boss", agenda.MaxRank, 2}, seedMember{"low", 0, 3})
	now := at.Add(48 * time.Hour)
	bookGroup(t, db,
		groupBooking{rec: groupAppt("past", "boss", "g", agenda.PrivacyFull, agenda.StatusConfirmed, now.Add(-2*time.Hour), now.Add(-time.Hour)),
			roles: map[string]string{"boss": agenda.RoleOwner, "low": agenda.RoleAuto}},
		groupBooking{rec: groupAppt("running", "boss", "g", agenda.PrivacyFull, agenda.StatusConfirmed, now.Add(-time.Hour), now.Add(time.Hour)),
			roles: map[string]string{"boss": agenda.RoleOwner, "low": agenda.RoleAuto}},
		groupBooking{rec: groupAppt("later", "boss", "g", agenda.PrivacyFull, agenda.StatusConfirmed, now.Add(time.Hour), now.Add(2*time.Hour)),
			roles: map[string]string{"boss": agenda.RoleOwner, "low": agenda.RoleDeclined}},
		groupBooking{rec: groupAppt("cancelled", "boss", "g", agenda.PrivacyFull, agenda.StatusCancelled, now.Add(time.Hour), now.Add(2*time.Hour)),
			roles: map[string]string{"boss": agenda.RoleOwner, "low": agenda.RolePending}},
		groupBooking{rec: groupAppt("elsewhere", "boss", "h", agenda.PrivacyFull, agenda.StatusConfirmed, now.Add(time.Hour), now.Add(2*time.Hour)),
			roles: map[string]string{"boss": agenda.RoleOwner, "low": agenda.RoleAuto}},
	)
	got, err := db.GroupParticipations(ctx, "g", "low", now)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID+":"+a.MyStatus)
	}
	if want := []string{"running:auto", "later:declined"}; !equalStrings(ids, want) {
		t.Fatalf("GroupParticipations = %v, want %v", ids, want)
	}
}

func TestTokenState(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	insertUsers(t, db, user("u1", "ana", "Ana"))
	if _, err := db.TokenState(ctx, "ghost", "t"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("TokenState of a user that does not exist: %v, want not found", err)
	}
	if s, err := db.TokenState(ctx, "u1", "t1"); err != nil || s != (agenda.TokenState{}) {
		t.Fatalf("TokenState = %+v, %v; want epoch 0, not revoked", s, err)
	}
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		if err := tx.UpdateUserPassword("u1", "hash2", at, 2, "n"); err != nil {
			return err
		}
		return tx.RevokeToken("u1", "t1", at.Add(time.Hour), at, 1)
	})
	if s, _ := db.TokenState(ctx, "u1", "t1"); s != (agenda.TokenState{Epoch: 1, Revoked: true}) {
		t.Fatalf("TokenState(t1) = %+v, want epoch 1, revoked", s)
	}
	if s, _ := db.TokenState(ctx, "u1", "t2"); s != (agenda.TokenState{Epoch: 1}) {
		t.Fatalf("TokenState(t2) = %+v, want epoch 1, not revoked", s)
	}
	u, _ := db.UserByID(ctx, "u1")
	if u.TokenEpoch != 1 || u.TokensVersion != 1 || u.Version != 2 {
		t.Fatalf("user = epoch %d, tokens version %d, version %d; want 1, 1, 2", u.TokenEpoch, u.TokensVersion, u.Version)
	}
	// A later revocation keeps those that expired within the grace: a
	// token is accepted a few seconds past its expiry (found by an
	// attacker's review: one logged out worked again in those seconds).
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		return tx.RevokeToken("u1", "t3", at.Add(3*time.Hour), at.Add(time.Hour+readmodel.RevocationGrace-time.Second), 2)
	})
	if s, _ := db.TokenState(ctx, "u1", "t1"); !s.Revoked {
		t.Fatalf("a revocation within its grace past expiry was forgotten")
	}
	// It forgets those that expired before the grace.
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		return tx.RevokeToken("u1", "t2", at.Add(3*time.Hour), at.Add(2*time.Hour), 3)
	})
	if s, _ := db.TokenState(ctx, "u1", "t1"); s.Revoked {
		t.Fatalf("an expired revocation is still kept")
	}
	if s, _ := db.TokenState(ctx, "u1", "t2"); !s.Revoked {
		t.Fatalf("t2 not revoked")
	}
}
