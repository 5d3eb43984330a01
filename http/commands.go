package http

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

// Commands is the write side as the HTTP layer uses it: the union of one
// small interface per resource, so that a test fake or a reader sees at a
// glance which commands a resource has.
type Commands interface {
	AppointmentCommands
	GroupCommands
	MembershipCommands
	UserCommands
	TokenCommands
	NotificationCommands
}

// AppointmentCommands write appointments and the answers to their invitations.
type AppointmentCommands interface {
	CreateAppointment(ctx context.Context, cmd commands.CreateAppointment) (commands.Result, error)
	UpdateAppointment(ctx context.Context, cmd commands.UpdateAppointment) (commands.Result, error)
	DeleteAppointment(ctx context.Context, cmd commands.DeleteAppointment) (commands.Result, error)
	AcceptAppointment(ctx context.Context, cmd commands.AnswerInvitation) (commands.Result, error)
	DeclineAppointment(ctx context.Context, cmd commands.AnswerInvitation) (commands.Result, error)
}

// GroupCommands write groups and the appointments a group imposes on its members.
type GroupCommands interface {
	CreateGroup(ctx context.Context, cmd commands.CreateGroup) (commands.Result, error)
	UpdateGroup(ctx context.Context, cmd commands.UpdateGroup) (commands.Result, error)
	DeleteGroup(ctx context.Context, cmd commands.DeleteGroup) (commands.Result, error)
	CreateGroupAppointment(ctx context.Context, cmd commands.CreateGroupAppointment) (commands.Result, error)
}

// MembershipCommands write who belongs to a group, at which rank, and the
// answers to group invitations.
type MembershipCommands interface {
	AddMember(ctx context.Context, cmd commands.AddMember) (commands.Result, error)
	ChangeRank(ctx context.Context, cmd commands.ChangeRank) (commands.Result, error)
	RemoveMember(ctx context.Context, cmd commands.RemoveMember) (commands.Result, error)
	AcceptGroupInvitation(ctx context.Context, cmd commands.AnswerGroupInvitation) (commands.Result, error)
	DeclineGroupInvitation(ctx context.Context, cmd commands.AnswerGroupInvitation) (commands.Result, error)
}

// UserCommands write accounts.
type UserCommands interface {
	RegisterUser(ctx context.Context, cmd commands.RegisterUser) (commands.Result, error)
	ChangeProfile(ctx context.Context, cmd commands.ChangeProfile) (commands.Result, error)
	ChangePassword(ctx context.Context, cmd commands.ChangePassword) (commands.Result, error)
}

// TokenCommands check a login (the server then signs the token) and revoke
// tokens.
type TokenCommands interface {
	// Authenticate returns the account the password was checked against.
	Authenticate(ctx context.Context, username, password string) (agenda.User, error)
	RevokeToken(ctx context.Context, cmd commands.RevokeToken) (commands.Result, error)
}

// NotificationCommands mark notifications read.
type NotificationCommands interface {
	MarkNotificationRead(ctx context.Context, cmd commands.MarkNotificationRead) (commands.Result, error)
	MarkAllNotificationsRead(ctx context.Context, actorID string) (commands.Result, error)
}
