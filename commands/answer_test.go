package commands_test

import (
	"context"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

// TestAnswersShowTheWrite checks that a command's Result carries the
// resource as its own batch leaves it (answer.go), and only what the command
// answers: the group and the member a membership change touched, the group
// alone for a group change, the user a profile change touched, the
// appointment an update touched.
func TestAnswersShowTheWrite(t *testing.T) {
	ctx := context.Background()
	memberOf := func(g *agenda.Group, userID string) (agenda.Member, bool) {
		for _, m := range g.Members {
			if m.UserID == userID {
				return m, true
			}
		}
		return agenda.Member{}, false
	}
	t.Run("AddMember answers the group and the invited member", func(t *testing.T) {
		res, err := newHandlers(&fakeLog{}, groupWorld(t)).AddMember(ctx, commands.AddMember{ActorID: "boss", GroupID: "h", UserID: "dan", Rank: ptr(10)})
		if err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		if res.Group == nil || res.Member == nil {
			t.Fatalf("result group = %v, member = %v; want both", res.Group, res.Member)
		}
		want := agenda.Member{UserID: "dan", Username: "dan", Rank: 10, Status: agenda.MemberInvited}
		if got := *res.Member; got.UserID != want.UserID || got.Username != want.Username || got.Rank != want.Rank || got.Status != want.Status {
			t.Errorf("member = %+v, want %+v", got, want)
		}
		if m, ok := memberOf(res.Group, "dan"); !ok || m.Status != agenda.MemberInvited {
			t.Errorf("group members = %+v, want dan invited", res.Group.Members)
		}
		if res.Group.Version != 5 {
			t.Errorf("group version = %d, want 5 (4 read + 1 event)", res.Group.Version)
		}
	})
	t.Run("ChangeRank answers the group and the member at the new rank", func(t *testing.T) {
		res, err := newHandlers(&fakeLog{}, groupWorld(t)).ChangeRank(ctx, commands.ChangeRank{ActorID: "boss", GroupID: "h", UserID: "low", Rank: 300})
		if err != nil {
			t.Fatalf("ChangeRank: %v", err)
		}
		if res.Group == nil || res.Member == nil {
			t.Fatalf("result group = %v, member = %v; want both", res.Group, res.Member)
		}
		if res.Member.UserID != "low" || res.Member.Rank != 300 {
			t.Errorf("member = %+v, want low at rank 300", *res.Member)
		}
		if m, _ := memberOf(res.Group, "low"); m.Rank != 300 {
			t.Errorf("group members = %+v, want low at rank 300", res.Group.Members)
		}
	})
	t.Run("UpdateGroup answers the group and no member", func(t *testing.T) {
		res, err := newHandlers(&fakeLog{}, groupWorld(t)).UpdateGroup(ctx, commands.UpdateGroup{ActorID: "boss", GroupID: "h", Name: ptr("Renamed")})
		if err != nil {
			t.Fatalf("UpdateGroup: %v", err)
		}
		if res.Group == nil || res.Group.Name != "Renamed" || res.Member != nil {
			t.Errorf("result group = %+v, member = %v; want the renamed group and no member", res.Group, res.Member)
		}
	})
	t.Run("ChangeProfile answers the user", func(t *testing.T) {
		res, err := newHandlers(&fakeLog{}, world(t)).ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", DisplayName: ptr("Ana B")})
		if err != nil {
			t.Fatalf("ChangeProfile: %v", err)
		}
		if res.User == nil || res.User.DisplayName != "Ana B" || res.User.Version != 4 {
			t.Errorf("result user = %+v, want Ana B at version 4", res.User)
		}
	})
	t.Run("UpdateAppointment answers the appointment", func(t *testing.T) {
		res, err := newHandlers(&fakeLog{}, world(t)).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Title: ptr("Retro")})
		if err != nil {
			t.Fatalf("UpdateAppointment: %v", err)
		}
		if res.Appointment == nil || res.Appointment.Title != "Retro" || res.Appointment.Version != 6 || res.Appointment.MyStatus != agenda.RoleOwner {
			t.Errorf("result appointment = %+v, want Retro at version 6 seen by its owner", res.Appointment)
		}
	})
}
