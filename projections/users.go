package projections

import (
	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// UsersProjection builds the users table.
type UsersProjection struct{}

// Name implements Projection.
func (UsersProjection) Name() string { return readmodel.ProjectionUsers }

// EventTypes implements Projection.
func (UsersProjection) EventTypes() []string {
	return []string{
		events.UserRegistered{}.EventType(),
		events.UserProfileChanged{}.EventType(),
		events.UserPasswordChanged{}.EventType(),
		events.UserTokenRevoked{}.EventType(),
	}
}

// Handle implements Projection.
func (UsersProjection) Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	switch e := ev.(type) {
	case events.UserRegistered:
		return tx.InsertUser(agenda.User{
			ID: e.UserID, Username: e.Username, DisplayName: e.DisplayName, Email: e.Email,
			PasswordHash: e.PasswordHash, CreatedAt: env.Time, Version: env.Version, OriginNode: env.OriginNode,
		})
	case events.UserProfileChanged:
		return tx.UpdateUserProfile(e.UserID, e.DisplayName, e.Email, env.Time, env.Version, env.OriginNode)
	case events.UserPasswordChanged:
		return tx.UpdateUserPassword(e.UserID, e.PasswordHash, env.Time, env.Version, env.OriginNode)
	case events.UserTokenRevoked:
		return tx.RevokeToken(e.UserID, e.TokenID, e.ExpiresAt, env.Time, env.Version)
	}
	return nil
}
