package events

import "time"

// ScheduleStream is the stream of one user's schedule: the aggregate that
// owns the rule "no two blocking appointments of a person overlap". Every
// change to what occupies a user's time is an event on it (the
// agenda.entry_* events), so a command that checked a user's schedule for
// overlaps expects this stream at the version it read; two concurrent
// bookings of the same person cannot both commit. The stream's persisted
// name keeps its original prefix, "agenda-", which stored events carry.
func ScheduleStream(userID string) string { return "agenda-" + userID }

// AgendaEntryAdded puts an appointment in a user's agenda with a role
// (owner, auto, pending, accepted).
type AgendaEntryAdded struct {
	UserID        string    `json:"user_id"`
	AppointmentID string    `json:"appointment_id"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Role          string    `json:"role"`
}

// AgendaEntryRescheduled moves an entry in a user's agenda.
type AgendaEntryRescheduled struct {
	UserID        string    `json:"user_id"`
	AppointmentID string    `json:"appointment_id"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
}

// AgendaEntryRemoved takes an appointment out of a user's agenda.
type AgendaEntryRemoved struct {
	UserID        string `json:"user_id"`
	AppointmentID string `json:"appointment_id"`
}

// AgendaEntryRoleChanged changes how a user takes part in an entry already
// in their agenda: an invitation ("pending") becomes "accepted", which then
// blocks their time.
type AgendaEntryRoleChanged struct {
	UserID        string `json:"user_id"`
	AppointmentID string `json:"appointment_id"`
	Role          string `json:"role"`
}

// EventType implements Event; the names are the registered type names.
func (AgendaEntryRoleChanged) EventType() string { return "agenda.entry_role_changed" }
func (AgendaEntryAdded) EventType() string       { return "agenda.entry_added" }
func (AgendaEntryRescheduled) EventType() string { return "agenda.entry_rescheduled" }
func (AgendaEntryRemoved) EventType() string     { return "agenda.entry_removed" }

func init() {
	register[AgendaEntryAdded]("agenda.entry_added", 1)
	register[AgendaEntryRescheduled]("agenda.entry_rescheduled", 1)
	register[AgendaEntryRemoved]("agenda.entry_removed", 1)
	register[AgendaEntryRoleChanged]("agenda.entry_role_changed", 1)
}
