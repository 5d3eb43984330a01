package commands

import (
	"context"
	"errors"

	"golang.org/x/crypto/bcrypt"

	"github.com/agendahq/agenda"
)

// Authenticate checks a username and password and returns the account it
// checked them against: a login token is issued for that account (its
// token epoch), not for one read again after the check, which a password
// change may already have moved. It answers EUNAUTHORIZED with the same
// message whether the user exists or not, and spends the same bcrypt work
// in both cases so timing does not tell either.
func (h *Handlers) Authenticate(ctx context.Context, username, password string) (agenda.User, error) {
	u, err := h.authenticate(ctx, username, password, nil)
	if err == nil {
		return u, nil
	}
	if agenda.ErrorCode(err) != agenda.EUNAUTHORIZED || h.Fresh == nil {
		return agenda.User{}, err
	}
	// A user registered, or a password changed, a moment ago on another
	// node may not be in this node's read model yet: confirm the refusal on
	// fresh state (or answer unavailable without a quorum), as commands do.
	// The password is hashed again only if the account changed since the
	// refused check: compared with the account that check saw, not with a
	// second read, which could already hold the new account.
	if ferr := h.fresh(ctx); ferr != nil {
		return agenda.User{}, ferr
	}
	seen := u
	if u, err = h.authenticate(ctx, username, password, &seen); err != nil {
		return agenda.User{}, err
	}
	return u, nil
}

// authenticate checks password against username's account and returns the
// account it checked, with an error if the check failed (the zero User if
// there was no account). With seen set (the account as a refused check saw
// it), an account that has not changed since is refused again without
// hashing.
func (h *Handlers) authenticate(ctx context.Context, username, password string, seen *agenda.User) (agenda.User, error) {
	fail := agenda.Errorf(agenda.EUNAUTHORIZED, "wrong username or password")
	u, err := h.Read.UserByUsername(ctx, username)
	if agenda.ErrorCode(err) == agenda.ENOTFOUND {
		if seen == nil {
			_ = bcrypt.CompareHashAndPassword(h.dummyHash(), []byte(password))
		}
		return agenda.User{}, fail
	} else if err != nil {
		return agenda.User{}, err
	}
	if seen != nil && seen.ID == u.ID && seen.PasswordHash == u.PasswordHash {
		return u, fail
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)); err != nil {
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return u, fail
		}
		return u, err
	}
	return u, nil
}
