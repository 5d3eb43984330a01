package commands_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/agendahq/agenda"
)

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	r := world(t)
	h := newHandlers(&fakeLog{}, r)

	u, err := h.Authenticate(ctx, "ana", password)
	if err != nil || u.ID != "ana" {
		t.Fatalf("Authenticate(ana, right password) = %q, %v; want ana", u.ID, err)
	}

	var first error
	for _, tc := range []struct{ name, username, password string }{
		{name: "unknown user", username: "nobody", password: password},
		{name: "wrong password", username: "ana", password: "wrong password"},
		{name: "empty password", username: "ana", password: ""},
		{name: "right password with a character more", username: "ana", password: password + "!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := h.Authenticate(ctx, tc.username, tc.password)
			if u.ID != "" {
				t.Errorf("user = %q, want none", u.ID)
			}
			wantCode(t, err, agenda.EUNAUTHORIZED, "")
			if first == nil {
				first = err
				return
			}
			if agenda.ErrorMessage(err) != agenda.ErrorMessage(first) || fmt.Sprint(agenda.ErrorDetails(err)) != fmt.Sprint(agenda.ErrorDetails(first)) {
				t.Errorf("error = %v, want the same as for an unknown user (%v)", err, first)
			}
		})
	}

	t.Run("a failing read model is not reported as a wrong password", func(t *testing.T) {
		r.err = errors.New("disk on fire")
		defer func() { r.err = nil }()
		_, err := h.Authenticate(ctx, "ana", password)
		if code := agenda.ErrorCode(err); code != agenda.EINTERNAL {
			t.Errorf("code = %q (%v), want internal", code, err)
		}
	})
}

// Authenticate returns the account it checked the password against: a
// password change projected right after the check must not lend the old
// password the new token epoch (the login handler issued the token from a
// read after the check, which a review found would survive the change).
func TestAuthenticateReturnsTheAccountItChecked(t *testing.T) {
	r := world(t)
	h := newHandlers(&fakeLog{}, r)
	r.afterUserLookup = func() {
		r.mu.Lock()
		ana := r.users["ana"]
		ana.PasswordHash, ana.TokenEpoch = "changed", ana.TokenEpoch+1
		r.users["ana"] = ana
		r.mu.Unlock()
	}
	u, err := h.Authenticate(context.Background(), "ana", password)
	if err != nil {
		t.Fatal(err)
	}
	if now := r.users["ana"].TokenEpoch; u.TokenEpoch != now-1 {
		t.Fatalf("token epoch = %d, want %d: the account as checked, not as changed after", u.TokenEpoch, now-1)
	}
}
