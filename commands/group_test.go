package commands_test

import (
	"context"
	"testing"

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
			// One event: the creator's membership is part of the creation,
			// so the group starts at version 1.
			evs := proposal(t, log, "dan", map[string]int64{"group-id-001": 0}, "group.created")
			c := evs[0].(events.GroupCreated)
			want := events.GroupCreated{GroupID: "id-001", Name: "Team", Description: "the team", Hierarchical: tc.hierarchical, CreatorID: "dan"}
			if c != want {
				t.Errorf("created = %+v, want %+v", c, want)
			}
			if res.ID != "id-001" || res.Position != 1 {
				t.Errorf("result = %+v, want id-001 at position 1", res)
			}
			g := res.Group
			if g == nil || g.Version != 1 || g.MyRank != tc.wantRank || g.MemberCount != 1 || len(g.Members) != 1 {
				t.Fatalf("answer = %+v, want version 1 with dan alone at rank %d", g, tc.wantRank)
			}
			if m := g.Members[0]; m.UserID != "dan" || m.Rank != tc.wantRank || m.Status != agenda.MemberActive || m.Version != 1 {
				t.Errorf("creator's membership = %+v, want dan active at rank %d, version 1", m, tc.wantRank)
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

func TestUpdateAndDeleteGroup(t *testing.T) {
	ctx := context.Background()
	t.Run("the creator renames", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, groupWorld(t)).UpdateGroup(ctx, commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr(" Tree "), IfMatch: commands.Versions(4)})
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
		{name: "a stale If-Match", cmd: commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr("X"), IfMatch: commands.Versions(3)}, code: agenda.EPRECONDITIONFAILED},
		{name: "a blank name", cmd: commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr(" ")}, code: agenda.EINVALID, wantField: "name"},
		{name: "an invisible name", cmd: commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr("\u200b\u200d")}, code: agenda.EINVALID, wantField: "name"},
		{name: "a name with a bidirectional override", cmd: commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr("Team\u202e")}, code: agenda.EINVALID, wantField: "name"},
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
		if _, err := newHandlers(log, groupWorld(t)).DeleteGroup(ctx, commands.DeleteGroup{ActorID: "boss", GroupID: "h"}); err != nil {
			t.Fatalf("DeleteGroup: %v", err)
		}
		// Every member's agenda vouches that nothing waits for answers.
		proposal(t, log, "boss", map[string]int64{"group-h": 4, "agenda-boss": 11, "agenda-mid": 12, "agenda-low": 13}, "group.deleted")
	})
	// "ha" is confirmed (set by mid for boss, who ranks above) and waits
	// for boss's answer: a review found the group deleted under it, the
	// invitation left open for ever.
	t.Run("delete refused while a hierarchical invitation waits", func(t *testing.T) {
		log := &fakeLog{}
		_, err := newHandlers(log, answerWorld(t)).DeleteGroup(ctx, commands.DeleteGroup{ActorID: "boss", GroupID: "h"})
		wantCode(t, err, agenda.ECONFLICT, "")
		if n := agenda.ErrorDetails(err)["pending_appointments"]; n != 1 {
			t.Errorf("details.pending_appointments = %v, want 1", n)
		}
		noProposal(t, log)
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
