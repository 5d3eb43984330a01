package commands

import (
	"context"

	"golang.org/x/crypto/bcrypt"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// ChangePassword replaces the caller's password after checking the current one.
type ChangePassword struct {
	UserID          string
	CurrentPassword string
	NewPassword     string
	// IfMatch holds the user's versions the caller accepts (the ETag of
	// /api/me).
	IfMatch IfMatch
}

// ChangePassword changes a password. EINVALID for a weak new password,
// EFORBIDDEN if the current password is wrong, EPRECONDITIONFAILED if
// IfMatch is not the user's version.
func (h *Handlers) ChangePassword(ctx context.Context, cmd ChangePassword) (Result, error) {
	if err := validatePassword("new_password", cmd.NewPassword); err != nil {
		return Result{}, err
	}
	u, err := h.Read.UserByID(ctx, cmd.UserID)
	if err != nil {
		return Result{}, err
	}
	wrong := agenda.Errorf(agenda.EFORBIDDEN, "current_password is wrong").WithDetails(map[string]any{"field": "current_password"})
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(cmd.CurrentPassword)) != nil {
		// The password may have changed a moment ago on another node:
		// confirm on fresh state, hashing again only if it did.
		if h.Fresh == nil {
			return Result{}, wrong
		}
		if err := h.fresh(ctx); err != nil {
			return Result{}, err
		}
		fresh, err := h.Read.UserByID(ctx, cmd.UserID)
		if err != nil {
			return Result{}, err
		}
		if fresh.PasswordHash == u.PasswordHash || bcrypt.CompareHashAndPassword([]byte(fresh.PasswordHash), []byte(cmd.CurrentPassword)) != nil {
			return Result{}, wrong
		}
		u = fresh
	}
	checked := u.PasswordHash
	hash, err := h.hash(cmd.NewPassword)
	if err != nil {
		return Result{}, err
	}
	return h.execute(ctx, cmd.UserID, func() (*batch, error) {
		u, err := h.Read.UserByID(ctx, cmd.UserID)
		if err != nil {
			return nil, err
		}
		if err := checkIfMatch("user", cmd.IfMatch, u.Version); err != nil {
			return nil, err
		}
		// A concurrent change may have replaced the password we checked:
		// the current password must still be the current one.
		if u.PasswordHash != checked {
			if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(cmd.CurrentPassword)) != nil {
				return nil, wrong
			}
			checked = u.PasswordHash
		}
		b := h.newBatch(ctx, cmd.UserID)
		b.expect(events.UserStream(u.ID), u.Version)
		b.add(events.UserStream(u.ID), events.UserPasswordChanged{UserID: u.ID, PasswordHash: string(hash)})
		return b, nil
	})
}
