package agenda

import (
	"fmt"
	"testing"
)

func TestBlocks(t *testing.T) {
	want := map[string]bool{RoleOwner: true, RoleAuto: true, RoleAccepted: true, RolePending: false, RoleDeclined: false, "": false}
	for role, blocks := range want {
		if got := Blocks(role); got != blocks {
			t.Errorf("Blocks(%q) = %v, want %v", role, got, blocks)
		}
	}
	roles := BlockingRoles()
	if len(roles) != 3 {
		t.Fatalf("BlockingRoles() = %v, want the three blocking statuses", roles)
	}
	roles[0] = RolePending // a caller's copy: the rule must not change
	if Blocks(RolePending) || !Blocks(RoleOwner) {
		t.Fatal("changing the slice BlockingRoles returned changed the rule")
	}
}

func TestGroupCanManage(t *testing.T) {
	tests := []struct {
		hierarchical bool
		mine, theirs int
		want         bool
	}{
		{true, 10, 5, true},
		{true, MaxRank, MaxRank - 1, true},
		{true, MinRank + 1, MinRank, true},
		{true, 10, 10, false},
		{true, 5, 10, false},
		{false, 10, 5, false},
		{false, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("hierarchical=%v/%d over %d", tc.hierarchical, tc.mine, tc.theirs), func(t *testing.T) {
			g := Group{Hierarchical: tc.hierarchical, MyRank: tc.mine}
			if got := g.CanManage(tc.theirs); got != tc.want {
				t.Errorf("CanManage = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGroupImposes(t *testing.T) {
	g := Group{Hierarchical: true, Members: []Member{
		{UserID: "boss", Rank: MaxRank}, {UserID: "mid", Rank: 500, Status: MemberActive},
		{UserID: "low", Rank: 0}, {UserID: "peer", Rank: 500}, {UserID: "ivy", Rank: 10, Status: MemberInvited},
	}}
	tests := []struct {
		organiser, user string
		want            bool
	}{
		{"boss", "mid", true},
		{"mid", "low", true},
		{"mid", "peer", false}, // level: an invitation, not an imposition
		{"low", "mid", false},  // below
		{"mid", "ivy", false},  // invited, not a member
		{"ivy", "low", false},  // an invited person imposes nothing
		{"gone", "low", false}, // the organiser left
		{"mid", "gone", false}, // the participant left
	}
	for _, tc := range tests {
		if got := g.Imposes(tc.organiser, tc.user); got != tc.want {
			t.Errorf("Imposes(%s, %s) = %v, want %v", tc.organiser, tc.user, got, tc.want)
		}
	}
	flat := g
	flat.Hierarchical = false
	if flat.Imposes("boss", "low") {
		t.Error("a flat group imposes")
	}
}
