package commands

import (
	"context"
	"errors"

	"golang.org/x/crypto/bcrypt"

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
	if err := validateDisplayName(cmd.DisplayName); err != nil {
		return Result{}, err
	}
	if err := validateEmail(cmd.Email); err != nil {
		return Result{}, err
	}
	hash, err := h.hash(cmd.Password)
	if err != nil {
		return Result{}, err
	}
	id := h.newID()
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
		b.answerUser(agenda.User{}, id)
		return b, nil
	})
}

func (h *Handlers) hash(password string) ([]byte, error) {
	cost := h.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	return bcrypt.GenerateFromPassword([]byte(password), cost)
}

// Authenticate checks a username and password. It answers EUNAUTHORIZED
// with the same message whether the user exists or not, and spends the same
// bcrypt work in both cases so timing does not tell either.
func (h *Handlers) Authenticate(ctx context.Context, username, password string) (string, error) {
	id, err := h.authenticate(ctx, username, password, nil)
	if agenda.ErrorCode(err) != agenda.EUNAUTHORIZED || h.Fresh == nil {
		return id, err
	}
	// A user registered, or a password changed, a moment ago on another
	// node may not be in this node's read model yet: confirm the refusal on
	// fresh state (or answer unavailable without a quorum), as commands do.
	// The password is hashed again only if the account changed meanwhile.
	before, _ := h.Read.UserByUsername(ctx, username)
	if ferr := h.Fresh(ctx); ferr != nil {
		return "", ferr
	}
	return h.authenticate(ctx, username, password, &before)
}

// authenticate checks password against username's account. With seen set
// (the account as a refused check saw it), an account that has not changed
// since is refused again without hashing.
func (h *Handlers) authenticate(ctx context.Context, username, password string, seen *agenda.User) (string, error) {
	fail := agenda.Errorf(agenda.EUNAUTHORIZED, "wrong username or password")
	u, err := h.Read.UserByUsername(ctx, username)
	if agenda.ErrorCode(err) == agenda.ENOTFOUND {
		if seen == nil {
			_ = bcrypt.CompareHashAndPassword(h.dummyHash(), []byte(password))
		}
		return "", fail
	} else if err != nil {
		return "", err
	}
	if seen != nil && seen.ID == u.ID && seen.PasswordHash == u.PasswordHash {
		return "", fail
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)); err != nil {
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return "", fail
		}
		return "", err
	}
	return u.ID, nil
}

// dummyHash is a hash of the configured cost to compare against when the
// user does not exist.
func (h *Handlers) dummyHash() []byte {
	h.dummyOnce.Do(func() {
		h.dummy, _ = h.hash("not a real password")
	})
	return h.dummy
}
