package commands

import (
	"context"
	"time"

	"github.com/agendahq/agenda/events"
)

// RevokeToken ends one login token of a user (logout) before it expires.
type RevokeToken struct {
	UserID string
	// TokenID identifies the token (its jti claim, or a hash of it).
	TokenID string
	// ExpiresAt is the token's own expiry: the revocation is kept until then.
	ExpiresAt time.Time
}

// RevokeToken logs a token out on every node: the revocation is an event,
// and every node's read model refuses the token once it has applied it.
// ENOTFOUND if the user does not exist.
func (h *Handlers) RevokeToken(ctx context.Context, cmd RevokeToken) (Result, error) {
	return h.execute(ctx, cmd.UserID, func() (*batch, error) {
		u, err := h.Read.UserByID(ctx, cmd.UserID)
		if err != nil {
			return nil, err
		}
		b := h.newBatch(ctx, cmd.UserID)
		b.expect(events.TokenStream(u.ID), u.TokensVersion)
		b.add(events.TokenStream(u.ID), events.UserTokenRevoked{UserID: u.ID, TokenID: cmd.TokenID, ExpiresAt: cmd.ExpiresAt.UTC()})
		return b, nil
	})
}
