package projections

import (
	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// UsersProjection builds the users table and the revoked login tokens.
type UsersProjection struct{}

// usersHandlers is UsersProjection's dispatch table.
var usersHandlers = func() dispatch {
	d := dispatch{}
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.UserRegistered) error {
		return tx.InsertUser(agenda.User{
			ID: e.UserID, Username: e.Username, DisplayName: e.DisplayName, Email: e.Email,
			PasswordHash: e.PasswordHash, CreatedAt: env.Time, Version: env.Version, OriginNode: env.OriginNode,
		})
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.UserProfileChanged) error {
		return tx.UpdateUserProfile(e.UserID, e.DisplayName, e.Email, env.Time, env.Version, env.OriginNode)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.UserPasswordChanged) error {
		return tx.UpdateUserPassword(e.UserID, e.PasswordHash, env.Time, env.Version, env.OriginNode)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.UserTokenRevoked) error {
		return tx.RevokeToken(e.UserID, e.TokenID, e.ExpiresAt, env.Time, env.Version)
	})
	return d
}()

// Name implements Projection.
func (UsersProjection) Name() string { return readmodel.ProjectionUsers }

// EventTypes implements Projection: the keys of its dispatch table.
func (UsersProjection) EventTypes() []string { return usersHandlers.eventTypes() }

// Handle implements Projection.
func (UsersProjection) Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	return usersHandlers.handle(readmodel.ProjectionUsers, tx, env, ev)
}
