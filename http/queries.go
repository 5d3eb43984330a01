package http

import (
	"context"
	"time"

	"github.com/agendahq/agenda"
)

// Queries is the read side as the HTTP layer uses it: the union of one small
// interface per resource, and the read model's position.
type Queries interface {
	AppointmentQueries
	GroupQueries
	UserQueries
	TokenQueries
	NotificationQueries
	ReadPosition
}

// AppointmentQueries read appointments, a user's agenda and their pending
// invitations.
type AppointmentQueries interface {
	Appointment(ctx context.Context, id, viewerID string) (agenda.Appointment, error)
	// EachAgendaEntry calls fn with each of a user's entries overlapping
	// [from, to), by start time, reusing one entry (fn copies what it
	// keeps), and stops at fn's first error.
	EachAgendaEntry(ctx context.Context, userID string, from, to time.Time, fn func(*agenda.Entry) error) error
	Invitations(ctx context.Context, userID string, now time.Time) ([]agenda.Appointment, error)
}

// GroupQueries read groups, a user's groups and group invitations, and a
// group's agenda and busy times.
type GroupQueries interface {
	Group(ctx context.Context, id, viewerID string) (agenda.Group, error)
	GroupsOf(ctx context.Context, userID string) ([]agenda.Group, error)
	GroupInvitations(ctx context.Context, userID string) ([]agenda.GroupInvitation, error)
	GroupAgenda(ctx context.Context, groupID, viewerID string, from, to time.Time) ([]agenda.MemberAgenda, error)
	GroupBusy(ctx context.Context, groupID, viewerID string, from, to time.Time) ([]agenda.Interval, error)
}

// UserQueries read accounts.
type UserQueries interface {
	UserByID(ctx context.Context, id string) (agenda.User, error)
	UserByUsername(ctx context.Context, username string) (agenda.User, error)
	SearchUsers(ctx context.Context, prefix string, limit int) ([]agenda.UserSummary, error)
}

// TokenQueries read whether a token is still valid.
type TokenQueries interface {
	TokenState(ctx context.Context, userID, tokenID string) (agenda.TokenState, error)
}

// NotificationQueries read notifications.
type NotificationQueries interface {
	Notifications(ctx context.Context, userID string, unreadOnly bool, limit int) ([]agenda.Notification, error)
}

// ReadPosition tells how far the read model has applied the log, and waits
// for it to reach a write.
type ReadPosition interface {
	WaitFor(ctx context.Context, position int64) error
	// Position is the position every projection has reached: read it
	// before the state it is to judge.
	Position() int64
	// Horizon is a position no state the read model has shown is newer
	// than: read it after the state it is to vouch for to a client.
	Horizon() int64
}
