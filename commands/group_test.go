package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

func TestCreateGroup(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		hierarchical bool
		wantRank     int
	}{
		{name: "hierarchical: the creator holds the top rank", hierarchical: true, wantRank: agenda.MaxRank},
		{name: "flat: the creator has rank 0", hierarchical: false, wantRank: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			res, err := newHandlers(log, groupWorld(t)).CreateGroup(ctx, commands.CreateGroup{ActorID: "dan",
				Name: "  Team  ", Description: "the team", Hierarchical: tc.hierarchical})
			if err != nil {
				t.Fatalf("CreateGroup: %v", err)
			}
			evs := proposal(t, log, "dan", map[string]int64{"group-id-001": 0}, "group.created", "group.member_added")
			c := evs[0].(events.GroupCreated)
			want := events.GroupCreated{GroupID: "id-001", Name: "Team", Description: "the team", Hierarchical: tc.hierarchical, CreatorID: "dan"}
			if c != want {
				t.Errorf("created = %+v, want %+v", c, want)
			}
			if m := evs[1].(events.GroupMemberAdded); m != (events.GroupMemberAdded{GroupID: "id-001", UserID: "dan", Rank: tc.wantRank}) {
				t.Errorf("member added = %+v, want dan at rank %d", m, tc.wantRank)
			}
			if res.ID != "id-001" || res.Position != 2 {
				t.Errorf("result = %+v, want id-001 at position 2", res)
			}
		})
	}
	t.Run("a blank name is invalid", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, groupWorld(t)).CreateGroup(ctx, commands.CreateGroup{ActorID: "dan", Name: "  "})
		wantCode(t, err, agenda.EINVALID, "name")
		noProposal(t, log)
	})
}

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
		})
	}
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
			evs := proposal(t, log, tc.cmd.ActorID, map[string]int64{"group-" + g.ID: g.Version}, "group.member_removed")
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
			evs := proposal(t, log, tc.creator, map[string]int64{"group-" + tc.group: r.groups[tc.group].Version}, tc.wantTypes...)
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
		evs := proposal(t, log, "ana", map[string]int64{"group-solo": 2}, "group.member_removed", "group.deleted")
		if got := evs[0].(events.GroupMemberRemoved); got != (events.GroupMemberRemoved{GroupID: "solo", UserID: "ana", Left: true}) {
			t.Errorf("member removed = %+v, want ana left solo", got)
		}
		if got := evs[1].(events.GroupDeleted); got.GroupID != "solo" {
			t.Errorf("deleted = %+v, want solo", got)
		}
	})
}

func TestCreateGroupAppointment(t *testing.T) {
	ctx := context.Background()
	create := func(actor, group string) commands.CreateGroupAppointment {
		return commands.CreateGroupAppointment{ActorID: actor, GroupID: group, Title: " Planning ", Description: "Q3",
			Location: "Room 9", Start: apptFrom, End: apptTo, Privacy: agenda.PrivacyFreeBusy}
	}
	tests := []struct {
		name       string
		cmd        commands.CreateGroupAppointment
		wantStatus string
		roles      []string // "user:role" for each member but the organiser, in member order
		agendas    map[string]int64
	}{
		{name: "creator imposes it on everyone below", cmd: create("boss", "h"), wantStatus: agenda.StatusConfirmed,
			roles:   []string{"mid:auto", "low:auto"},
			agendas: map[string]int64{"agenda-boss": 11, "agenda-mid": 12, "agenda-low": 13}},
		{name: "middle rank imposes below, invites above", cmd: create("mid", "h"), wantStatus: agenda.StatusConfirmed,
			roles:   []string{"boss:pending", "low:auto"},
			agendas: map[string]int64{"agenda-boss": 11, "agenda-mid": 12, "agenda-low": 13}},
		{name: "rank 0 only invites", cmd: create("low", "h"), wantStatus: agenda.StatusConfirmed,
			roles:   []string{"boss:pending", "mid:pending"},
			agendas: map[string]int64{"agenda-boss": 11, "agenda-mid": 12, "agenda-low": 13}},
		{name: "flat: everyone invited, pending until all accept", cmd: create("bob", "f"), wantStatus: agenda.StatusPending,
			roles:   []string{"ana:pending", "cat:pending"},
			agendas: map[string]int64{"agenda-ana": 21, "agenda-bob": 22, "agenda-cat": 23}},
		{name: "flat with a single member: confirmed at once", cmd: create("ana", "solo"), wantStatus: agenda.StatusConfirmed,
			roles: nil, agendas: map[string]int64{"agenda-ana": 21}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			r := groupWorld(t)
			res, err := newHandlers(log, r).CreateGroupAppointment(ctx, tc.cmd)
			if err != nil {
				t.Fatalf("CreateGroupAppointment: %v", err)
			}
			g := r.groups[tc.cmd.GroupID]
			want := map[string]int64{"group-" + g.ID: g.Version, "appointment-id-001": 0}
			for s, v := range tc.agendas {
				want[s] = v
			}
			types := []string{"appointment.created"}
			for range tc.roles {
				types = append(types, "appointment.participant_added")
			}
			for range g.ActiveMembers() { // ivy, invited only, takes no part
				types = append(types, "agenda.entry_added")
			}
			evs := proposal(t, log, tc.cmd.ActorID, want, types...)
			c := evs[0].(events.AppointmentCreated)
			wantCreated := events.AppointmentCreated{AppointmentID: "id-001", OwnerID: tc.cmd.ActorID, GroupID: g.ID,
				Title: "Planning", Description: "Q3", Location: "Room 9", Start: apptFrom, End: apptTo,
				Privacy: agenda.PrivacyFreeBusy, Status: tc.wantStatus}
			if c != wantCreated {
				t.Errorf("created = %+v\nwant %+v", c, wantCreated)
			}
			var roles []string
			entryRole := map[string]string{}
			for _, ev := range evs[1:] {
				switch e := ev.(type) {
				case events.AppointmentParticipantAdded:
					if e.AppointmentID != "id-001" {
						t.Errorf("participant added to %s, want id-001", e.AppointmentID)
					}
					roles = append(roles, e.UserID+":"+e.Status)
				case events.AgendaEntryAdded:
					if e.AppointmentID != "id-001" || !e.Start.Equal(apptFrom) || !e.End.Equal(apptTo) {
						t.Errorf("entry = %+v, want id-001 at %s–%s", e, apptFrom, apptTo)
					}
					entryRole[e.UserID] = e.Role
				}
			}
			if !equalTypes(roles, tc.roles) {
				t.Errorf("participants = %v, want %v", roles, tc.roles)
			}
			// Every member gets an entry with their role; the organiser's is owner.
			if entryRole[tc.cmd.ActorID] != agenda.RoleOwner {
				t.Errorf("organiser's entry role = %q, want owner", entryRole[tc.cmd.ActorID])
			}
			for _, ur := range tc.roles {
				for i := range ur {
					if ur[i] == ':' {
						if got := entryRole[ur[:i]]; got != ur[i+1:] {
							t.Errorf("entry role of %s = %q, want %q", ur[:i], got, ur[i+1:])
						}
					}
				}
			}
			if res.ID != "id-001" || res.Position != int64(len(evs)) {
				t.Errorf("result = %+v, want id-001 at position %d", res, len(evs))
			}
		})
	}

	busy := func(id, title string) agenda.Slot {
		return agenda.Slot{AppointmentID: id, Title: title, Start: apptFrom.Add(30 * time.Minute), End: apptTo.Add(30 * time.Minute)}
	}
	t.Run("clashes of several people come back in one schedule_conflict", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.schedules["mid"] = agenda.Schedule{Version: 12, Conflicts: []agenda.Slot{busy("m1", "Mine")}}
		r.schedules["low"] = agenda.Schedule{Version: 13, Conflicts: []agenda.Slot{busy("l1", "Low's secret"), busy("l2", "Low's other")}}
		// boss is only invited: a clash of theirs blocks nothing.
		r.schedules["boss"] = agenda.Schedule{Version: 11, Conflicts: []agenda.Slot{busy("b1", "Boss's")}}
		_, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("mid", "h"))
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		noProposal(t, log)
		list, ok := agenda.ErrorDetails(err)["conflicts"].([]map[string]any)
		if !ok || len(list) != 3 {
			t.Fatalf("details.conflicts = %#v, want 3 slots (mid's and low's two)", agenda.ErrorDetails(err)["conflicts"])
		}
		byUser := map[string][]map[string]any{}
		for _, c := range list {
			u, _ := c["user_id"].(string)
			byUser[u] = append(byUser[u], c)
		}
		if len(byUser["boss"]) != 0 {
			t.Errorf("conflicts name the invited boss: %v", byUser["boss"])
		}
		if m := byUser["mid"]; len(m) != 1 || m[0]["appointment_id"] != "m1" || m[0]["title"] != "Mine" {
			t.Errorf("organiser's own conflicts = %v, want m1 with its title", m)
		}
		if l := byUser["low"]; len(l) != 2 {
			t.Errorf("low's conflicts = %v, want 2", l)
		}
		for _, c := range byUser["low"] {
			_, hasID := c["appointment_id"]
			_, hasTitle := c["title"]
			if hasID || hasTitle || c["busy"] != true || c["start"] == nil || c["end"] == nil {
				t.Errorf("someone else's conflict = %v, want only user_id, start, end, busy:true", c)
			}
		}
	})
	t.Run("a flat group's invitees never clash", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.schedules["cat"] = agenda.Schedule{Version: 23, Conflicts: []agenda.Slot{busy("c1", "Cat's")}}
		if _, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("ana", "f")); err != nil {
			t.Fatalf("CreateGroupAppointment: %v", err)
		}
	})
	t.Run("the organiser's own clash", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.schedules["ana"] = agenda.Schedule{Version: 21, Conflicts: []agenda.Slot{busy("a9", "Dentist")}}
		_, err := newHandlers(log, r).CreateGroupAppointment(ctx, create("ana", "f"))
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		noProposal(t, log)
	})
	t.Run("non-member", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, groupWorld(t)).CreateGroupAppointment(ctx, create("dan", "h"))
		wantCode(t, err, agenda.ENOTFOUND, "")
		noProposal(t, log)
	})
	t.Run("invalid fields", func(t *testing.T) {
		log := &fakeLog{}
		cmd := create("boss", "h")
		cmd.Title = " "
		_, err := newHandlers(log, groupWorld(t)).CreateGroupAppointment(ctx, cmd)
		wantCode(t, err, agenda.EINVALID, "title")
		noProposal(t, log)
	})
}

// answerWorld adds to groupWorld:
//   - "fa", a flat appointment of group f (version 6) organised by ana: bob
//     pending, cat accepted;
//   - "ha", a hierarchical appointment of group h (version 8) organised by
//     mid: boss pending, low auto;
//   - "hx", like ha (version 9) but cancelled.
func answerWorld(t testing.TB) *fakeRead {
	r := groupWorld(t)
	groupAppointment(r, "fa", "f", agenda.StatusPending, 6,
		map[string]string{"ana": agenda.RoleOwner, "bob": agenda.RolePending, "cat": agenda.RoleAccepted})
	groupAppointment(r, "ha", "h", agenda.StatusConfirmed, 8,
		map[string]string{"mid": agenda.RoleOwner, "boss": agenda.RolePending, "low": agenda.RoleAuto})
	groupAppointment(r, "hx", "h", agenda.StatusCancelled, 9,
		map[string]string{"mid": agenda.RoleOwner, "boss": agenda.RolePending, "low": agenda.RoleAuto})
	return r
}

func TestAcceptAppointment(t *testing.T) {
	ctx := context.Background()
	accept := func(actor, id string) commands.AnswerInvitation {
		return commands.AnswerInvitation{ActorID: actor, AppointmentID: id}
	}
	t.Run("the last acceptance in a flat group confirms", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).AcceptAppointment(ctx, accept("bob", "fa"))
		if err != nil {
			t.Fatalf("AcceptAppointment: %v", err)
		}
		evs := proposal(t, log, "bob", map[string]int64{"appointment-fa": 6, "agenda-bob": 22},
			"appointment.accepted", "agenda.entry_role_changed", "appointment.confirmed")
		if got := evs[0].(events.AppointmentAccepted); got != (events.AppointmentAccepted{AppointmentID: "fa", UserID: "bob"}) {
			t.Errorf("accepted = %+v", got)
		}
		if got := evs[1].(events.AgendaEntryRoleChanged); got != (events.AgendaEntryRoleChanged{UserID: "bob", AppointmentID: "fa", Role: agenda.RoleAccepted}) {
			t.Errorf("role changed = %+v", got)
		}
		if got := evs[2].(events.AppointmentConfirmed); got.AppointmentID != "fa" {
			t.Errorf("confirmed = %+v", got)
		}
	})
	t.Run("an acceptance that is not the last does not confirm", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["fa"]
		a.Participants[2].Status = agenda.RolePending // cat
		r.appointments["fa"] = a
		if _, err := newHandlers(log, r).AcceptAppointment(ctx, accept("bob", "fa")); err != nil {
			t.Fatalf("AcceptAppointment: %v", err)
		}
		proposal(t, log, "bob", map[string]int64{"appointment-fa": 6, "agenda-bob": 22},
			"appointment.accepted", "agenda.entry_role_changed")
	})
	t.Run("hierarchical: accepting confirms nothing (already confirmed)", func(t *testing.T) {
		log := &fakeLog{}
		if _, err := newHandlers(log, answerWorld(t)).AcceptAppointment(ctx, accept("boss", "ha")); err != nil {
			t.Fatalf("AcceptAppointment: %v", err)
		}
		proposal(t, log, "boss", map[string]int64{"appointment-ha": 8, "agenda-boss": 11},
			"appointment.accepted", "agenda.entry_role_changed")
	})
	t.Run("accepting after declining puts the entry back", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants[0].Status = agenda.RoleDeclined // boss
		r.appointments["ha"] = a
		if _, err := newHandlers(log, r).AcceptAppointment(ctx, accept("boss", "ha")); err != nil {
			t.Fatalf("AcceptAppointment: %v", err)
		}
		evs := proposal(t, log, "boss", map[string]int64{"appointment-ha": 8, "agenda-boss": 11},
			"appointment.accepted", "agenda.entry_added")
		want := events.AgendaEntryAdded{UserID: "boss", AppointmentID: "ha", Start: apptFrom, End: apptTo, Role: agenda.RoleAccepted}
		if got := evs[1].(events.AgendaEntryAdded); got != want {
			t.Errorf("entry added = %+v, want %+v", got, want)
		}
	})
	t.Run("the invitee's agenda must be free", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		r.schedules["bob"] = agenda.Schedule{Version: 22, Conflicts: []agenda.Slot{
			{AppointmentID: "fa", Start: apptFrom, End: apptTo}, // the appointment itself is no conflict
			{AppointmentID: "gym", Title: "Gym", Start: apptFrom, End: apptTo}}}
		_, err := newHandlers(log, r).AcceptAppointment(ctx, accept("bob", "fa"))
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		list, _ := agenda.ErrorDetails(err)["conflicts"].([]map[string]any)
		if len(list) != 1 || list[0]["appointment_id"] != "gym" || list[0]["title"] != "Gym" {
			t.Errorf("details.conflicts = %v, want gym, in full (it is the caller's)", list)
		}
		noProposal(t, log)
	})
	for _, tc := range []struct {
		name, actor, id, code string
		setup                 func(r *fakeRead)
	}{
		{name: "already accepted", actor: "cat", id: "fa", code: agenda.ECONFLICT},
		{name: "organiser", actor: "ana", id: "fa", code: agenda.ECONFLICT},
		{name: "imposed", actor: "low", id: "ha", code: agenda.ECONFLICT},
		{name: "cancelled", actor: "boss", id: "hx", code: agenda.ECONFLICT},
		{name: "not a participant", actor: "dan", id: "fa", code: agenda.ENOTFOUND},
		{name: "no such appointment", actor: "bob", id: "nope", code: agenda.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			_, err := newHandlers(log, answerWorld(t)).AcceptAppointment(ctx, accept(tc.actor, tc.id))
			wantCode(t, err, tc.code, "")
			noProposal(t, log)
		})
	}
}

func TestDeclineAppointment(t *testing.T) {
	ctx := context.Background()
	decline := func(actor, id string) commands.AnswerInvitation {
		return commands.AnswerInvitation{ActorID: actor, AppointmentID: id}
	}
	removed := func(evs []events.Event) []string {
		var out []string
		for _, ev := range evs {
			if e, ok := ev.(events.AgendaEntryRemoved); ok {
				out = append(out, e.UserID+"/"+e.AppointmentID)
			}
		}
		return out
	}
	t.Run("flat: a decline cancels it for everyone", func(t *testing.T) {
		log := &fakeLog{}
		if _, err := newHandlers(log, answerWorld(t)).DeclineAppointment(ctx, decline("bob", "fa")); err != nil {
			t.Fatalf("DeclineAppointment: %v", err)
		}
		evs := proposal(t, log, "bob", map[string]int64{"appointment-fa": 6, "agenda-bob": 22, "agenda-ana": 21, "agenda-cat": 23},
			"appointment.declined", "agenda.entry_removed", "appointment.cancelled", "agenda.entry_removed", "agenda.entry_removed")
		if got := evs[0].(events.AppointmentDeclined); got != (events.AppointmentDeclined{AppointmentID: "fa", UserID: "bob"}) {
			t.Errorf("declined = %+v", got)
		}
		if got := evs[2].(events.AppointmentCancelled); got != (events.AppointmentCancelled{AppointmentID: "fa", Reason: events.CancelledDeclined}) {
			t.Errorf("cancelled = %+v, want reason declined", got)
		}
		if got, want := removed(evs), []string{"bob/fa", "ana/fa", "cat/fa"}; !equalTypes(got, want) {
			t.Errorf("entries removed = %v, want %v", got, want)
		}
	})
	t.Run("flat: a participant who declined has no entry to remove", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["fa"]
		a.Participants = append(a.Participants, agenda.Participant{UserID: "dan", Username: "dan", Status: agenda.RoleDeclined})
		r.appointments["fa"] = a
		if _, err := newHandlers(log, r).DeclineAppointment(ctx, decline("cat", "fa")); err != nil {
			t.Fatalf("DeclineAppointment: %v", err)
		}
		evs := proposal(t, log, "cat", map[string]int64{"appointment-fa": 6, "agenda-cat": 23, "agenda-ana": 21, "agenda-bob": 22},
			"appointment.declined", "agenda.entry_removed", "appointment.cancelled", "agenda.entry_removed", "agenda.entry_removed")
		if got, want := removed(evs), []string{"cat/fa", "ana/fa", "bob/fa"}; !equalTypes(got, want) {
			t.Errorf("entries removed = %v, want %v", got, want)
		}
	})
	t.Run("hierarchical: only the decliner's entry goes", func(t *testing.T) {
		log := &fakeLog{}
		if _, err := newHandlers(log, answerWorld(t)).DeclineAppointment(ctx, decline("boss", "ha")); err != nil {
			t.Fatalf("DeclineAppointment: %v", err)
		}
		evs := proposal(t, log, "boss", map[string]int64{"appointment-ha": 8, "agenda-boss": 11},
			"appointment.declined", "agenda.entry_removed")
		if got, want := removed(evs), []string{"boss/ha"}; !equalTypes(got, want) {
			t.Errorf("entries removed = %v, want %v", got, want)
		}
	})
	t.Run("hierarchical: an acceptance can be withdrawn", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants[0].Status = agenda.RoleAccepted // boss
		r.appointments["ha"] = a
		if _, err := newHandlers(log, r).DeclineAppointment(ctx, decline("boss", "ha")); err != nil {
			t.Fatalf("DeclineAppointment: %v", err)
		}
		proposal(t, log, "boss", map[string]int64{"appointment-ha": 8, "agenda-boss": 11},
			"appointment.declined", "agenda.entry_removed")
	})
	for _, tc := range []struct {
		name, actor, id, code string
	}{
		{name: "organiser", actor: "mid", id: "ha", code: agenda.ECONFLICT},
		{name: "imposed", actor: "low", id: "ha", code: agenda.ECONFLICT},
		{name: "cancelled", actor: "boss", id: "hx", code: agenda.ECONFLICT},
		{name: "not a participant", actor: "dan", id: "ha", code: agenda.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			_, err := newHandlers(log, answerWorld(t)).DeclineAppointment(ctx, decline(tc.actor, tc.id))
			wantCode(t, err, tc.code, "")
			noProposal(t, log)
		})
	}
	t.Run("declined again", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants[0].Status = agenda.RoleDeclined // boss
		r.appointments["ha"] = a
		_, err := newHandlers(log, r).DeclineAppointment(ctx, decline("boss", "ha"))
		wantCode(t, err, agenda.ECONFLICT, "")
		noProposal(t, log)
	})
}

func TestDeleteGroupAppointmentCancelsIt(t *testing.T) {
	ctx := context.Background()
	t.Run("organiser cancels: every entry but declined ones goes", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants = append(a.Participants, agenda.Participant{UserID: "dan", Username: "dan", Status: agenda.RoleDeclined})
		r.appointments["ha"] = a
		if _, err := newHandlers(log, r).DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: "mid", AppointmentID: "ha"}); err != nil {
			t.Fatalf("DeleteAppointment: %v", err)
		}
		evs := proposal(t, log, "mid", map[string]int64{"appointment-ha": 8, "agenda-boss": 11, "agenda-low": 13, "agenda-mid": 12},
			"appointment.cancelled", "agenda.entry_removed", "agenda.entry_removed", "agenda.entry_removed")
		if got := evs[0].(events.AppointmentCancelled); got != (events.AppointmentCancelled{AppointmentID: "ha", Reason: events.CancelledDeleted}) {
			t.Errorf("cancelled = %+v, want reason deleted", got)
		}
	})
	t.Run("cancelled already", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: "mid", AppointmentID: "hx"})
		wantCode(t, err, agenda.ECONFLICT, "")
		noProposal(t, log)
	})
	t.Run("a participant is not the organiser", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: "boss", AppointmentID: "ha"})
		wantCode(t, err, agenda.EFORBIDDEN, "")
		noProposal(t, log)
	})
}

func TestMarkNotificationRead(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		state    agenda.NotificationState
		wantCode string
		wantRead bool // a notification.read is proposed
	}{
		{name: "unread", state: agenda.NotificationState{StreamVersion: 5, Found: true, Unread: 2}, wantRead: true},
		{name: "already read: nothing written", state: agenda.NotificationState{StreamVersion: 5, Found: true, Read: true, Unread: 2}},
		{name: "not found", state: agenda.NotificationState{StreamVersion: 5, Unread: 2}, wantCode: agenda.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			r := groupWorld(t)
			r.notifications["bob/n1"] = tc.state
			res, err := newHandlers(log, r).MarkNotificationRead(ctx, commands.MarkNotificationRead{ActorID: "bob", NotificationID: "n1"})
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, "")
				noProposal(t, log)
				return
			}
			if err != nil {
				t.Fatalf("MarkNotificationRead: %v", err)
			}
			if !tc.wantRead {
				noProposal(t, log)
				if res.Position != 0 {
					t.Errorf("result position = %d, want 0", res.Position)
				}
				return
			}
			evs := proposal(t, log, "bob", map[string]int64{"notifications-bob": 5}, "notification.read")
			if got := evs[0].(events.NotificationRead); got != (events.NotificationRead{UserID: "bob", NotificationID: "n1"}) {
				t.Errorf("read = %+v", got)
			}
		})
	}
	t.Run("someone else's notification is not found", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.notifications["bob/n1"] = agenda.NotificationState{StreamVersion: 5, Found: true}
		_, err := newHandlers(log, r).MarkNotificationRead(ctx, commands.MarkNotificationRead{ActorID: "cat", NotificationID: "n1"})
		wantCode(t, err, agenda.ENOTFOUND, "")
		noProposal(t, log)
	})
}

func TestMarkAllNotificationsRead(t *testing.T) {
	ctx := context.Background()
	t.Run("marks read up to the newest notification the user could see", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.position = 60 // the read model as a whole is not what the user saw
		r.notifications["bob/"] = agenda.NotificationState{StreamVersion: 3, Unread: 4, Latest: 57}
		if _, err := newHandlers(log, r).MarkAllNotificationsRead(ctx, "bob"); err != nil {
			t.Fatalf("MarkAllNotificationsRead: %v", err)
		}
		evs := proposal(t, log, "bob", map[string]int64{"notifications-bob": 3}, "notification.all_read")
		if got := evs[0].(events.NotificationsAllRead); got != (events.NotificationsAllRead{UserID: "bob", UpToPosition: 57}) {
			t.Errorf("all read = %+v, want bob up to 57", got)
		}
	})
	t.Run("nothing unread: nothing written", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.position = 57
		r.notifications["bob/"] = agenda.NotificationState{StreamVersion: 3}
		res, err := newHandlers(log, r).MarkAllNotificationsRead(ctx, "bob")
		if err != nil {
			t.Fatalf("MarkAllNotificationsRead: %v", err)
		}
		noProposal(t, log)
		if res.Position != 0 {
			t.Errorf("result position = %d, want 0", res.Position)
		}
	})
}

func TestUpdateAndDeleteGroup(t *testing.T) {
	ctx := context.Background()
	t.Run("the creator renames", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, groupWorld(t)).UpdateGroup(ctx, commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr(" Tree "), IfMatch: 4})
		if err != nil {
			t.Fatalf("UpdateGroup: %v", err)
		}
		evs := proposal(t, log, "boss", map[string]int64{"group-h": 4}, "group.updated")
		if got := evs[0].(events.GroupUpdated); got != (events.GroupUpdated{GroupID: "h", Name: "Tree"}) {
			t.Errorf("updated = %+v, want name Tree, description kept", got)
		}
	})
	for _, tc := range []struct {
		name      string
		cmd       commands.UpdateGroup
		code      string
		wantField string
	}{
		{name: "another member", cmd: commands.UpdateGroup{ActorID: "mid", GroupID: "h", Name: ptr("X")}, code: agenda.EFORBIDDEN},
		{name: "a non-member", cmd: commands.UpdateGroup{ActorID: "dan", GroupID: "h", Name: ptr("X")}, code: agenda.ENOTFOUND},
		{name: "a stale If-Match", cmd: commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr("X"), IfMatch: 3}, code: agenda.EPRECONDITIONFAILED},
		{name: "a blank name", cmd: commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr(" ")}, code: agenda.EINVALID, wantField: "name"},
	} {
		t.Run("update refused: "+tc.name, func(t *testing.T) {
			log := &fakeLog{}
			_, err := newHandlers(log, groupWorld(t)).UpdateGroup(ctx, tc.cmd)
			wantCode(t, err, tc.code, tc.wantField)
			noProposal(t, log)
		})
	}
	t.Run("the creator deletes", func(t *testing.T) {
		log := &fakeLog{}
		if _, err := newHandlers(log, answerWorld(t)).DeleteGroup(ctx, commands.DeleteGroup{ActorID: "boss", GroupID: "h"}); err != nil {
			t.Fatalf("DeleteGroup: %v", err)
		}
		proposal(t, log, "boss", map[string]int64{"group-h": 4}, "group.deleted")
	})
	t.Run("delete refused while appointments wait for answers", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).DeleteGroup(ctx, commands.DeleteGroup{ActorID: "ana", GroupID: "f"})
		wantCode(t, err, agenda.ECONFLICT, "")
		if n := agenda.ErrorDetails(err)["pending_appointments"]; n != 1 {
			t.Errorf("details.pending_appointments = %v, want 1", n)
		}
		noProposal(t, log)
	})
	t.Run("delete refused to another member", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, groupWorld(t)).DeleteGroup(ctx, commands.DeleteGroup{ActorID: "bob", GroupID: "f"})
		wantCode(t, err, agenda.EFORBIDDEN, "")
		noProposal(t, log)
	})
}

func TestUpdateGroupAppointment(t *testing.T) {
	ctx := context.Background()
	later := func(d time.Duration) *time.Time { v := apptFrom.Add(d); return &v }
	t.Run("a new time moves every entry but declined ones", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		a := r.appointments["ha"]
		a.Participants[0].Status = agenda.RoleDeclined // boss
		r.appointments["ha"] = a
		// low's (imposed) agenda is free at the new time; boss's clash
		// does not matter, boss declined.
		r.schedules["boss"] = agenda.Schedule{Version: 11, Conflicts: []agenda.Slot{{AppointmentID: "x", Start: apptFrom, End: apptTo}}}
		_, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "mid", AppointmentID: "ha",
			Start: later(2 * time.Hour), End: later(3 * time.Hour)})
		if err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
		evs := proposal(t, log, "mid", map[string]int64{"appointment-ha": 8, "agenda-mid": 12, "agenda-low": 13},
			"appointment.updated", "agenda.entry_rescheduled", "agenda.entry_rescheduled")
		for _, ev := range evs[1:] {
			if e := ev.(events.AgendaEntryRescheduled); !e.Start.Equal(*later(2 * time.Hour)) {
				t.Errorf("rescheduled = %+v, want the new start", e)
			}
		}
	})
	t.Run("an imposed participant's clash refuses it", func(t *testing.T) {
		log := &fakeLog{}
		r := answerWorld(t)
		r.schedules["low"] = agenda.Schedule{Version: 13, Conflicts: []agenda.Slot{{AppointmentID: "x", Title: "Secret", Start: apptFrom, End: apptTo}}}
		_, err := newHandlers(log, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "mid", AppointmentID: "ha",
			Start: later(30 * time.Minute), End: later(90 * time.Minute)})
		wantCode(t, err, agenda.ESCHEDULECONFLICT, "")
		list, _ := agenda.ErrorDetails(err)["conflicts"].([]map[string]any)
		if len(list) != 1 || list[0]["user_id"] != "low" || list[0]["title"] != nil || list[0]["busy"] != true {
			t.Errorf("details.conflicts = %v, want low's slot as busy time only", list)
		}
		noProposal(t, log)
	})
	t.Run("a cancelled appointment cannot change", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "mid", AppointmentID: "hx", Title: ptr("X")})
		wantCode(t, err, agenda.ECONFLICT, "")
		noProposal(t, log)
	})
}

func TestGroupAppointmentDecidedAgainAfterAMembershipChange(t *testing.T) {
	ctx := context.Background()
	conflict := &events.VersionConflictError{Stream: "group-h", Expected: 4, Actual: 5, Position: 30}
	log := &fakeLog{position: 30, answers: []func(events.Batch) (events.Committed, error){fail(conflict)}}
	r := groupWorld(t)
	// By the time the read model reaches 30, dan has joined below boss.
	r.onWait = func(int64) {
		g := r.groups["h"]
		g.Members = append(g.Members, agenda.Member{UserID: "dan", Username: "dan", Rank: 1})
		g.Version = 5
		r.groups["h"] = g
	}
	res, err := newHandlers(log, r).CreateGroupAppointment(ctx, commands.CreateGroupAppointment{ActorID: "boss", GroupID: "h",
		Title: "All hands", Start: apptFrom, End: apptTo})
	if err != nil {
		t.Fatalf("CreateGroupAppointment: %v", err)
	}
	bs := log.proposed()
	if len(bs) != 2 {
		t.Fatalf("proposed %d batches, want 2", len(bs))
	}
	if got := expectations(bs[1]); got["group-h"] != 5 || got["agenda-dan"] != 24 || got["appointment-id-001"] != 0 {
		t.Errorf("second batch expects %v, want group-h at 5, agenda-dan at 24, the same appointment ID", got)
	}
	var imposed []string
	for _, e := range bs[1].Events {
		ev, _ := e.Decode()
		if p, ok := ev.(events.AppointmentParticipantAdded); ok && p.Status == agenda.RoleAuto {
			imposed = append(imposed, p.UserID)
		}
	}
	if want := []string{"mid", "low", "dan"}; !equalTypes(imposed, want) {
		t.Errorf("imposed on %v, want %v (the new member included)", imposed, want)
	}
	if res.ID != "id-001" {
		t.Errorf("result ID = %s, want id-001 (kept across decisions)", res.ID)
	}
}
