package commands_test

import (
	"context"
	"testing"

	"github.com/agendahq/agenda/commands"
)

// TestStoredDisplayNameSentBackUnchanged: a display name stored before the
// rules on control characters and separators (allowed then) is not checked
// again when it is sent back unchanged, as the web UI does with every
// profile save (me.js sends display_name and email together); a review
// found such a user unable to change their email.
func TestStoredDisplayNameSentBackUnchanged(t *testing.T) {
	for _, stored := range []string{"Ana\u2029B", "Ana\u0085B", "  Ana  "} {
		r := world(t)
		u := r.users["ana"]
		u.DisplayName = stored
		r.users["ana"] = u
		_, err := newHandlers(&fakeLog{}, r).ChangeProfile(context.Background(),
			changeProfile("ana", stored, "new@example.com"))
		if err != nil {
			t.Errorf("changing only the email of a user whose stored display name is %q: %v", stored, err)
		}
	}
}

func changeProfile(user, display, email string) commands.ChangeProfile {
	return commands.ChangeProfile{UserID: user, DisplayName: &display, Email: &email}
}
