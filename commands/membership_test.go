package commands_test

import (
	"context"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

func TestAddMember(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		cmd       commands.AddMember
		wantCode  string // "" for success
		wantField string
		wantRank  int
	}{
		{name: "creator adds just below the top", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "dan", Rank: ptr(999)}, wantRank: 999},
		{name: "rank omitted means 0", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "dan"}, wantRank: 0},
		{name: "by username", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", Username: "dan", Rank: ptr(10)}, wantRank: 10},
		{name: "middle rank adds just below itself", cmd: commands.AddMember{ActorID: "mid", GroupID: "h", UserID: "dan", Rank: ptr(499)}, wantRank: 499},
		{name: "middle rank cannot add at its own rank", cmd: commands.AddMember{ActorID: "mid", GroupID: "h", UserID: "dan", Rank: ptr(500)},
			wantCode: agenda.EFORBIDDEN, wantField: "rank"},
		{name: "middle rank cannot add above itself", cmd: commands.AddMember{ActorID: "mid", GroupID: "h", UserID: "dan", Rank: ptr(700)},
			wantCode: agenda.EFORBIDDEN, wantField: "rank"},
		{name: "rank 0 cannot add anyone", cmd: commands.AddMember{ActorID: "low", GroupID: "h", UserID: "dan"},
			wantCode: agenda.EFORBIDDEN, wantField: "rank"},
		{name: "the top rank is nobody else's", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "dan", Rank: ptr(agenda.MaxRank)},
			wantCode: agenda.EINVALID, wantField: "rank"},
		{name: "negative rank", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "dan", Rank: ptr(-1)},
			wantCode: agenda.EINVALID, wantField: "rank"},
		{name: "both user_id and username", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "dan", Username: "dan"},
			wantCode: agenda.EINVALID, wantField: "user_id"},
		{name: "neither user_id nor username", cmd: commands.AddMember{ActorID: "boss", GroupID: "h"},
			wantCode: agenda.EINVALID, wantField: "user_id"},
		{name: "unknown user ID", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "ghost"},
			wantCode: agenda.ENOTFOUND, wantField: "user_id"},
		{name: "unknown username", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", Username: "ghost"},
			wantCode: agenda.ENOTFOUND, wantField: "username"},
		{name: "already a member", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "low"},
			wantCode: agenda.ECONFLICT},
		{name: "actor not in the group", cmd: commands.AddMember{ActorID: "dan", GroupID: "h", UserID: "ana"},
			wantCode: agenda.ENOTFOUND},
		{name: "no such group", cmd: commands.AddMember{ActorID: "boss", GroupID: "nope", UserID: "dan"},
			wantCode: agenda.ENOTFOUND},
		{name: "flat: any member adds", cmd: commands.AddMember{ActorID: "bob", GroupID: "f", UserID: "dan"}, wantRank: 0},
		{name: "flat: explicit rank 0 is fine", cmd: commands.AddMember{ActorID: "bob", GroupID: "f", UserID: "dan", Rank: ptr(0)}, wantRank: 0},
		{name: "flat: no ranks", cmd: commands.AddMember{ActorID: "ana", GroupID: "f", UserID: "dan", Rank: ptr(1)},
			wantCode: agenda.EINVALID, wantField: "rank"},
		{name: "flat: already a member", cmd: commands.AddMember{ActorID: "bob", GroupID: "f", Username: "cat"},
			wantCode: agenda.ECONFLICT},
		{name: "already invited", cmd: commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "ivy"},
			wantCode: agenda.ECONFLICT},
		{name: "an invited person cannot invite", cmd: commands.AddMember{ActorID: "ivy", GroupID: "h", UserID: "dan"},
			wantCode: agenda.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			r := groupWorld(t)
			res, err := newHandlers(log, r).AddMember(ctx, tc.cmd)
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.wantField)
				noProposal(t, log)
				return
			}
			if err != nil {
				t.Fatalf("AddMember: %v", err)
			}
			g := r.groups[tc.cmd.GroupID]
			evs := proposal(t, log, tc.cmd.ActorID, map[string]int64{"group-" + g.ID: g.Version}, "group.member_invited")
			want := events.GroupMemberInvited{GroupID: g.ID, UserID: "dan", Rank: tc.wantRank, InvitedBy: tc.cmd.ActorID}
			if got := evs[0].(events.GroupMemberInvited); got != want {
				t.Errorf("member invited = %+v, want %+v", got, want)
			}
			if res.ID != "dan" || res.Position != 1 {
				t.Errorf("result = %+v, want dan at position 1", res)
			}
			if m := res.Member; m == nil || m.UserID != "dan" || m.Status != agenda.MemberInvited || m.Version != 1 {
				t.Errorf("answer = %+v, want dan invited at version 1", m)
			}
		})
	}
	t.Run("a membership that ended before is counted on from", func(t *testing.T) {
		r := groupWorld(t)
		r.ended = map[string]int64{"h/dan": 7}
		res, err := newHandlers(&fakeLog{}, r).AddMember(ctx, commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "dan"})
		if err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		if m := res.Member; m == nil || m.Version != 8 {
			t.Errorf("answer = %+v, want dan invited at version 8", m)
		}
	})
}

func TestChangeRank(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		cmd       commands.ChangeRank
		wantCode  string // "" for success
		wantField string
		unchanged bool // success without a proposal
	}{
		{name: "creator re-ranks a member", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "low", Rank: 300}},
		{name: "creator raises a member to just below the top", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "mid", Rank: 999}},
		{name: "creator lowers a member to 0", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "mid", Rank: 0}},
		{name: "middle rank raises a subordinate to just below itself", cmd: commands.ChangeRank{ActorID: "mid", GroupID: "h", UserID: "low", Rank: 499}},
		{name: "middle rank cannot raise a subordinate to its own rank", cmd: commands.ChangeRank{ActorID: "mid", GroupID: "h", UserID: "low", Rank: 500},
			wantCode: agenda.EFORBIDDEN, wantField: "rank"},
		{name: "middle rank cannot re-rank its superior", cmd: commands.ChangeRank{ActorID: "mid", GroupID: "h", UserID: "boss", Rank: 10},
			wantCode: agenda.EFORBIDDEN},
		{name: "nobody re-ranks themselves", cmd: commands.ChangeRank{ActorID: "mid", GroupID: "h", UserID: "mid", Rank: 10},
			wantCode: agenda.EFORBIDDEN},
		{name: "not even the creator", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "boss", Rank: 10},
			wantCode: agenda.EFORBIDDEN},
		{name: "rank 0 re-ranks nobody", cmd: commands.ChangeRank{ActorID: "low", GroupID: "h", UserID: "mid", Rank: 0},
			wantCode: agenda.EFORBIDDEN},
		{name: "out of range", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "low", Rank: agenda.MaxRank},
			wantCode: agenda.EINVALID, wantField: "rank"},
		{name: "negative", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "low", Rank: -5},
			wantCode: agenda.EINVALID, wantField: "rank"},
		{name: "unknown member", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "dan", Rank: 1},
			wantCode: agenda.ENOTFOUND},
		{name: "actor not in the group", cmd: commands.ChangeRank{ActorID: "dan", GroupID: "h", UserID: "low", Rank: 1},
			wantCode: agenda.ENOTFOUND},
		{name: "flat group has no ranks", cmd: commands.ChangeRank{ActorID: "ana", GroupID: "f", UserID: "bob", Rank: 0},
			wantCode: agenda.EINVALID, wantField: "rank"},
		{name: "same rank writes nothing", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "mid", Rank: 500}, unchanged: true},
		{name: "If-Match the membership's version", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "low", Rank: 300, IfMatch: commands.Versions(3)}},
		{name: "a stale If-Match", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "low", Rank: 300, IfMatch: commands.Versions(4)},
			wantCode: agenda.EPRECONDITIONFAILED},
		{name: "a stale If-Match even when nothing would change", cmd: commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "low", Rank: 0, IfMatch: commands.Versions(2)},
			wantCode: agenda.EPRECONDITIONFAILED},
		{name: "forbidden before a stale If-Match is looked at", cmd: commands.ChangeRank{ActorID: "mid", GroupID: "h", UserID: "boss", Rank: 10, IfMatch: commands.Versions(99)},
			wantCode: agenda.EFORBIDDEN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			res, err := newHandlers(log, groupWorld(t)).ChangeRank(ctx, tc.cmd)
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.wantField)
				noProposal(t, log)
				return
			}
			if err != nil {
				t.Fatalf("ChangeRank: %v", err)
			}
			if tc.unchanged {
				noProposal(t, log)
				if res.Position != 0 {
					t.Errorf("result position = %d, want 0 (nothing written)", res.Position)
				}
				return
			}
			evs := proposal(t, log, tc.cmd.ActorID, map[string]int64{"group-h": 4}, "group.member_rank_changed")
			want := events.GroupMemberRankChanged{GroupID: "h", UserID: tc.cmd.UserID, Rank: tc.cmd.Rank}
			if got := evs[0].(events.GroupMemberRankChanged); got != want {
				t.Errorf("rank changed = %+v, want %+v", got, want)
			}
		})
	}
}

func TestRemoveMember(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		cmd      commands.RemoveMember
		wantCode string
		wantLeft bool
	}{
		{name: "lowest rank leaves", cmd: commands.RemoveMember{ActorID: "low", GroupID: "h", UserID: "low"}, wantLeft: true},
		{name: "creator removes a member", cmd: commands.RemoveMember{ActorID: "boss", GroupID: "h", UserID: "mid"}},
		{name: "middle rank removes a subordinate", cmd: commands.RemoveMember{ActorID: "mid", GroupID: "h", UserID: "low"}},
		{name: "middle rank cannot remove its superior", cmd: commands.RemoveMember{ActorID: "mid", GroupID: "h", UserID: "boss"},
			wantCode: agenda.EFORBIDDEN},
		{name: "rank 0 cannot remove anyone", cmd: commands.RemoveMember{ActorID: "low", GroupID: "h", UserID: "mid"},
			wantCode: agenda.EFORBIDDEN},
		{name: "unknown member", cmd: commands.RemoveMember{ActorID: "boss", GroupID: "h", UserID: "dan"},
			wantCode: agenda.ENOTFOUND},
		{name: "actor not in the group", cmd: commands.RemoveMember{ActorID: "dan", GroupID: "h", UserID: "low"},
			wantCode: agenda.ENOTFOUND},
		{name: "flat: a member leaves", cmd: commands.RemoveMember{ActorID: "cat", GroupID: "f", UserID: "cat"}, wantLeft: true},
		{name: "flat: the creator removes others", cmd: commands.RemoveMember{ActorID: "ana", GroupID: "f", UserID: "cat"}},
		{name: "flat: another member does not", cmd: commands.RemoveMember{ActorID: "bob", GroupID: "f", UserID: "cat"},
			wantCode: agenda.EFORBIDDEN},
		{name: "flat: nobody removes the creator", cmd: commands.RemoveMember{ActorID: "bob", GroupID: "f", UserID: "ana"},
			wantCode: agenda.EFORBIDDEN},
		{name: "If-Match the membership's version", cmd: commands.RemoveMember{ActorID: "boss", GroupID: "h", UserID: "low", IfMatch: commands.Versions(3)}},
		{name: "a stale If-Match", cmd: commands.RemoveMember{ActorID: "boss", GroupID: "h", UserID: "low", IfMatch: commands.Versions(4)},
			wantCode: agenda.EPRECONDITIONFAILED},
		{name: "a stale If-Match on leaving", cmd: commands.RemoveMember{ActorID: "low", GroupID: "h", UserID: "low", IfMatch: commands.Versions(1)},
			wantCode: agenda.EPRECONDITIONFAILED},
		{name: "forbidden before a stale If-Match is looked at", cmd: commands.RemoveMember{ActorID: "low", GroupID: "h", UserID: "mid", IfMatch: commands.Versions(99)},
			wantCode: agenda.EFORBIDDEN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			r := groupWorld(t)
			_, err := newHandlers(log, r).RemoveMember(ctx, tc.cmd)
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, "")
				noProposal(t, log)
				return
			}
			if err != nil {
				t.Fatalf("RemoveMember: %v", err)
			}
			g := r.groups[tc.cmd.GroupID]
			// The member's agenda vouches for the appointments whose part
			// in them the departure ends (here none).
			evs := proposal(t, log, tc.cmd.ActorID, map[string]int64{"group-" + g.ID: g.Version,
				"agenda-" + tc.cmd.UserID: r.agendaVersions[tc.cmd.UserID]}, "group.member_removed")
			want := events.GroupMemberRemoved{GroupID: g.ID, UserID: tc.cmd.UserID, Left: tc.wantLeft}
			if got := evs[0].(events.GroupMemberRemoved); got != want {
				t.Errorf("member removed = %+v, want %+v", got, want)
			}
		})
	}
	t.Run("a creator leaving hands their rights to the most senior member left", func(t *testing.T) {
		for _, tc := range []struct {
			group, creator, heir string
			wantTypes            []string
		}{
			// mid (500) outranks low and takes the top rank too.
			{"h", "boss", "mid", []string{"group.member_removed", "group.creator_changed", "group.member_rank_changed"}},
			// In a flat group all are equal: the lowest user ID among equal joins.
			{"f", "ana", "bob", []string{"group.member_removed", "group.creator_changed"}},
		} {
			log := &fakeLog{}
			r := groupWorld(t)
			_, err := newHandlers(log, r).RemoveMember(ctx, commands.RemoveMember{ActorID: tc.creator, GroupID: tc.group, UserID: tc.creator})
			if err != nil {
				t.Fatalf("RemoveMember: %v", err)
			}
			evs := proposal(t, log, tc.creator, map[string]int64{"group-" + tc.group: r.groups[tc.group].Version,
				"agenda-" + tc.creator: r.agendaVersions[tc.creator]}, tc.wantTypes...)
			if got := evs[1].(events.GroupCreatorChanged); got != (events.GroupCreatorChanged{GroupID: tc.group, UserID: tc.heir}) {
				t.Errorf("creator changed = %+v, want %s", got, tc.heir)
			}
			if len(evs) == 3 {
				if got := evs[2].(events.GroupMemberRankChanged); got != (events.GroupMemberRankChanged{GroupID: tc.group, UserID: tc.heir, Rank: agenda.MaxRank}) {
					t.Errorf("rank changed = %+v, want %s at the top rank", got, tc.heir)
				}
			}
		}
	})
	t.Run("the last member leaving deletes the group", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, groupWorld(t)).RemoveMember(ctx, commands.RemoveMember{ActorID: "ana", GroupID: "solo", UserID: "ana"})
		if err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		evs := proposal(t, log, "ana", map[string]int64{"group-solo": 2, "agenda-ana": 21}, "group.member_removed", "group.deleted")
		if got := evs[0].(events.GroupMemberRemoved); got != (events.GroupMemberRemoved{GroupID: "solo", UserID: "ana", Left: true}) {
			t.Errorf("member removed = %+v, want ana left solo", got)
		}
		if got := evs[1].(events.GroupDeleted); got.GroupID != "solo" {
			t.Errorf("deleted = %+v, want solo", got)
		}
	})
}
