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
//
// Its verdict, either way, holds on fresh state (Fresh): a user registered
// or a password changed a moment ago on another node may not be in this
// node's read model yet. A refusal is confirmed there, as commands confirm
// theirs; and so is a success, or the old password kept logging in on a
// follower after a change the leader had acknowledged (a review: 10 logins
// of 10, each token good for a strong read). Without a quorum a login is
// unavailable: this node cannot tell that the password is still the one.
func (h *Handlers) Authenticate(ctx context.Context, username, password string) (agenda.User, error) {
	u, err := h.authenticate(ctx, username, password, nil)
	if h.Fresh == nil || (err != nil && agenda.ErrorCode(err) != agenda.EUNAUTHORIZED) {
		if err != nil {
			return agenda.User{}, err
		}
		return u, nil
	}
	if ferr := h.fresh(ctx); ferr != nil {
		return agenda.User{}, ferr
	}
	first := checked{user: u, ok: err == nil}
	if u, err = h.authenticate(ctx, username, password, &first); err != nil {
		return agenda.User{}, err
	}
	return u, nil
}

// checked is a first check's verdict and the account it saw.
type checked struct {
	user agenda.User
	ok   bool
}

// authenticate checks password against username's account and returns the
// account it checked, with an error if the check failed (the zero User if
// there was no account). With first set, an account that has not changed
// since that check keeps its verdict without hashing again: compared with
// the account the first check saw, not with a second read, which could
// already hold a newer one.
func (h *Handlers) authenticate(ctx context.Context, username, password string, first *checked) (agenda.User, error) {
	fail := agenda.Errorf(agenda.EUNAUTHORIZED, "wrong username or password")
	u, err := h.Read.UserByUsername(ctx, username)
	if agenda.ErrorCode(err) == agenda.ENOTFOUND {
		if first == nil {
			_ = bcrypt.CompareHashAndPassword(h.dummyHash(), []byte(password))
		}
		return agenda.User{}, fail
	} else if err != nil {
		return agenda.User{}, err
	}
	if first != nil && first.user.ID == u.ID && first.user.PasswordHash == u.PasswordHash && first.user.TokenEpoch == u.TokenEpoch {
		if first.ok {
			return first.user, nil
		}
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
