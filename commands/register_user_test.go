package commands_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/agendahq/agenda/commands"
)

// A user's ID is random, not time-ordered like the IDs of what users
// create: everyone who finds a user sees it, and a UUIDv7 would tell them
// when the account was made. (An appointment's or a group's ID stays
// UUIDv7, for the indexes it keys.)
func TestUserIDsDoNotTellWhenTheAccountWasMade(t *testing.T) {
	h := newHandlers(&fakeLog{}, world(t))
	h.NewID = nil
	ctx := context.Background()
	u, err := h.RegisterUser(ctx, commands.RegisterUser{Username: "carla", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := uuid.Parse(u.ID); err != nil || id.Version() != 4 {
		t.Fatalf("user ID %q (version %d, %v), want a random UUID (version 4)", u.ID, id.Version(), err)
	}
	a, err := h.CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Lunch", Start: apptFrom, End: apptTo})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := uuid.Parse(a.ID); err != nil || id.Version() != 7 {
		t.Fatalf("appointment ID %q (version %d, %v), want a UUIDv7", a.ID, id.Version(), err)
	}
}
