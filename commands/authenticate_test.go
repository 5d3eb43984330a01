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

	id, err := h.Authenticate(ctx, "ana", password)
	if err != nil || id != "ana" {
		t.Fatalf("Authenticate(ana, right password) = %q, %v; want ana", id, err)
	}

	var first error
	for _, tc := range []struct{ name, username, password string }{
		{name: "unknown user", username: "nobody", password: password},
		{name: "wrong password", username: "ana", password: "wrong password"},
		{name: "empty password", username: "ana", password: ""},
		{name: "right password with a character more", username: "ana", password: password + "!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := h.Authenticate(ctx, tc.username, tc.password)
			if id != "" {
				t.Errorf("id = %q, want none", id)
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
