package commands

import (
	"context"
	"strings"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// RegisterUser creates an account.
type RegisterUser struct {
	Username    string
	Password    string
	DisplayName string
	Email       string
}

// RegisterUser registers a user. EINVALID for bad fields, ECONFLICT if the
// username is taken (also when two registrations race: the username's
// reservation stream lets only one commit).
func (h *Handlers) RegisterUser(ctx context.Context, cmd RegisterUser) (Result, error) {
	if err := validateUsername(cmd.Username); err != nil {
		return Result{}, err
	}
	if err := validatePassword("password", cmd.Password); err != nil {
		return Result{}, err
	}
	if cmd.DisplayName == "" {
		cmd.DisplayName = cmd.Username
	}
	// Stored without the blanks around it, as titles and group names are.
	cmd.DisplayName = strings.TrimSpace(cmd.DisplayName)
	if err := validateDisplayName(cmd.DisplayName); err != nil {
		return Result{}, err
	}
	if err := validateName("display_name", cmd.DisplayName); err != nil {
		return Result{}, err
	}
	if err := validateEmail(cmd.Email); err != nil {
		return Result{}, err
	}
	if err := validateNewEmail(cmd.Email); err != nil {
		return Result{}, err
	}
	hash, err := h.hash(cmd.Password)
	if err != nil {
		return Result{}, err
	}
	id := h.newUserID()
	return h.execute(ctx, id, func() (*batch, error) {
		if _, err := h.Read.UserByUsername(ctx, cmd.Username); err == nil {
			return nil, agenda.Errorf(agenda.ECONFLICT, "username %q is taken", cmd.Username)
		} else if agenda.ErrorCode(err) != agenda.ENOTFOUND {
			return nil, err
		}
		b := h.newBatch(ctx, id)
		b.expect(events.UserStream(id), 0)
		b.expect(events.UsernameStream(cmd.Username), 0)
		b.add(events.UserStream(id), events.UserRegistered{
			UserID: id, Username: cmd.Username, DisplayName: cmd.DisplayName, Email: cmd.Email, PasswordHash: string(hash),
		})
		b.add(events.UsernameStream(cmd.Username), events.UsernameClaimed{Username: cmd.Username, UserID: id})
		b.user = answer(userAfter(agenda.User{}, b, id))
		return b, nil
	})
}
