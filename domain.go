package agenda

import "time"

// Privacy levels of an appointment. "full" lets superiors in a hierarchical
// group see the details; "freebusy" shows the slot as busy to everyone who
// does not own or take part in it.
const (
	PrivacyFull     = "full"
	PrivacyFreeBusy = "freebusy"
)

// Appointment statuses.
const (
	StatusConfirmed = "confirmed"
	StatusPending   = "pending"
	StatusCancelled = "cancelled"
)

// Participation statuses: how a user takes part in an appointment
// (the appointment's my_status for that user).
const (
	RoleOwner    = "owner"
	RoleAuto     = "auto"
	RolePending  = "pending"
	RoleAccepted = "accepted"
	RoleDeclined = "declined"
)

// Blocks reports whether a participation with this status occupies the
// user's time, so that another appointment may not overlap it.
func Blocks(role string) bool {
	return role == RoleOwner || role == RoleAuto || role == RoleAccepted
}

// MaxAppointmentDuration bounds one appointment. Longer spans are refused as
// invalid; the bound also lets agenda queries use a plain index range.
const MaxAppointmentDuration = 31 * 24 * time.Hour

// MaxAgendaWindow bounds the window of one agenda query.
const MaxAgendaWindow = 366 * 24 * time.Hour

// Times outside [MinTime, MaxTime) are refused as invalid: they are no
// plausible calendar entries, and the read model stores times as int64
// nanoseconds, which would overflow far outside this range.
var (
	MinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)
