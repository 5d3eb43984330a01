package commands

import (
	"context"
	"strings"

	"github.com/agendahq/agenda/events"
)

// ChangeProfile changes the caller's display name and/or email. Nil fields
// keep their value; IfMatch holds the versions the caller accepts.
type ChangeProfile struct {
	UserID      string
	DisplayName *string
	Email       *string
	IfMatch     IfMatch
}

// ChangeProfile updates a profile. EINVALID, ENOTFOUND, EPRECONDITIONFAILED.
func (h *Handlers) ChangeProfile(ctx context.Context, cmd ChangeProfile) (Result, error) {
	if cmd.DisplayName != nil {
		if *cmd.DisplayName == "" {
			return Result{}, invalid("display_name", "display_name may not be empty")
		}
		// Stored without the blanks around it, as titles and group names are.
		trimmed := strings.TrimSpace(*cmd.DisplayName)
		cmd.DisplayName = &trimmed
		if err := validateDisplayName(*cmd.DisplayName); err != nil {
			return Result{}, err
		}
	}
	if cmd.Email != nil {
		if err := validateEmail(*cmd.Email); err != nil {
			return Result{}, err
		}
	}
	return h.execute(ctx, cmd.UserID, func() (*batch, error) {
		u, err := h.Read.UserByID(ctx, cmd.UserID)
		if err != nil {
			return nil, err
		}
		if err := checkIfMatch("profile", cmd.IfMatch, u.Version); err != nil {
			return nil, err
		}
		e := events.UserProfileChanged{UserID: u.ID, DisplayName: u.DisplayName, Email: u.Email}
		if cmd.DisplayName != nil && *cmd.DisplayName != u.DisplayName {
			// A name sent back as stored (the UI sends it with every
			// email change) is not checked again by rules newer than it.
			if err := validateName("display_name", *cmd.DisplayName); err != nil {
				return nil, err
			}
			e.DisplayName = *cmd.DisplayName
		}
		if cmd.Email != nil && *cmd.Email != u.Email {
			// Shown to its owner only, but as a name is: a review stored
			// one that began with U+202E, which reversed it on the page.
			if err := validateNewEmail(*cmd.Email); err != nil {
				return nil, err
			}
			e.Email = *cmd.Email
		}
		if e.DisplayName == u.DisplayName && e.Email == u.Email {
			b := unchanged() // nothing to change: no new version
			b.user = &u
			return b, nil
		}
		b := h.newBatch(ctx, cmd.UserID)
		b.expect(events.UserStream(u.ID), u.Version)
		b.add(events.UserStream(u.ID), e)
		b.user = answer(userAfter(u, b, u.ID))
		return b, nil
	})
}
