package agenda

import (
	"slices"
	"testing"
)

func TestInvitationsBeyond(t *testing.T) {
	members := []Member{
		{UserID: "mgr", Rank: 50, Status: MemberActive},
		{UserID: "hi", Rank: 49, Status: MemberInvited, RankedBy: "mgr"},
		{UserID: "lo", Rank: 0, Status: MemberInvited, RankedBy: "mgr"},
		{UserID: "other", Rank: 30, Status: MemberInvited, RankedBy: "boss"},
		{UserID: "joined", Rank: 40, Status: MemberActive, RankedBy: "mgr"},
	}
	for _, c := range []struct {
		name         string
		hierarchical bool
		rank         int
		member       bool
		want         []string
	}{
		{"left", true, 0, false, []string{"hi", "lo"}},
		{"demoted to 1", true, 1, true, []string{"hi"}},
		{"demoted to 49: one may not give one's own rank", true, 49, true, []string{"hi"}},
		{"promoted", true, 60, true, nil},
		{"flat, left", false, 0, false, []string{"hi", "lo"}},
		{"flat, still a member", false, 0, true, nil},
	} {
		g := Group{Hierarchical: c.hierarchical, Members: members}
		var got []string
		for _, m := range g.InvitationsBeyond("mgr", c.rank, c.member) {
			got = append(got, m.UserID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: InvitationsBeyond = %v, want %v", c.name, got, c.want)
		}
	}
}
