package agenda

import (
	"slices"
	"time"
)

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

// liveStatuses are the statuses of an appointment that still holds: every
// one but cancelled. A new status must be placed here or left out.
var liveStatuses = [...]string{StatusConfirmed, StatusPending}

// LiveStatuses returns the statuses of an appointment that still holds (a
// fresh slice each call). Reads that skip cancelled appointments list
// these rather than exclude cancelled, so that an index on the status can
// bound them.
func LiveStatuses() []string { return slices.Clone(liveStatuses[:]) }

// Participation statuses: how a user takes part in an appointment
// (the appointment's my_status for that user).
const (
	RoleOwner    = "owner"
	RoleAuto     = "auto"
	RolePending  = "pending"
	RoleAccepted = "accepted"
	RoleDeclined = "declined"
)

// blockingRoles is the one place the rule "which participations occupy a
// user's time" is written: the organiser's own appointment, one imposed by
// a superior, and an accepted invitation. A pending or declined invitation
// leaves the time free.
var blockingRoles = [...]string{RoleOwner, RoleAuto, RoleAccepted}

// BlockingRoles returns the participation statuses that occupy a user's
// time (a fresh slice each call, so no caller can change the rule). The
// read model's SQL filters take their parameters from it, and a table test
// in readmodel proves the SQL and Blocks agree on every status.
func BlockingRoles() []string { return slices.Clone(blockingRoles[:]) }

// Blocks reports whether a participation with this status occupies the
// user's time, so that another appointment may not overlap it: whether role
// is one of BlockingRoles.
func Blocks(role string) bool { return slices.Contains(blockingRoles[:], role) }

// MaxAppointmentDuration bounds one appointment. Longer spans are refused as
// invalid; the bound also lets agenda queries use a plain index range.
const MaxAppointmentDuration = 31 * 24 * time.Hour

// MinAppointmentDuration is the shortest appointment: a calendar's unit is
// the minute, and a review booked appointments a nanosecond long, packing
// any window with as many entries as it liked.
const MinAppointmentDuration = time.Minute

// MaxAgendaWindow bounds the window of one agenda query.
const MaxAgendaWindow = 366 * 24 * time.Hour

// MaxAgendaEntries and MaxAgendaBytes bound one agenda answer: one's own
// agenda, a group's (its members' entries together), and the busy time a
// group's free slots are found in (entries only). The window alone does not
// bound them, since a member's agenda holds what superiors impose: a review
// filled a year of a 40-member group's agenda with 61,500 entries, and one
// read of it answered 156 MB and took 400 MB of memory. A window holding
// more is refused (AgendaTooLarge) before anything is written, whatever is
// stored. An answer is built whole before it is written, after its read
// ends: a client that stops reading must not hold a read open (a review
// found streamed answers froze the node).
const (
	MaxAgendaEntries = 10_000
	MaxAgendaBytes   = 8 << 20
)

// AgendaTooLarge is the refusal of a window holding more than
// MaxAgendaEntries entries, or an answer of more than MaxAgendaBytes:
// invalid, asking for a shorter window.
func AgendaTooLarge() *Error {
	return Errorf(EINVALID, "this window holds more than %d entries, or more than %d MiB of them; ask for a shorter one",
		MaxAgendaEntries, MaxAgendaBytes>>20).WithDetails(map[string]any{"field": "to", "max_entries": MaxAgendaEntries, "max_bytes": MaxAgendaBytes})
}

// Times outside [MinTime, MaxTime) are refused as invalid: they are no
// plausible calendar entries, and the read model stores times as int64
// nanoseconds, which would overflow far outside this range.
var (
	MinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)
