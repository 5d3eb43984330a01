package events

import "time"

// AppointmentStream is the stream of one appointment; its version is the
// appointment's resource version.
func AppointmentStream(appointmentID string) string { return "appointment-" + appointmentID }

// AppointmentCreated is the first event of an appointment stream. GroupID is
// empty for a personal appointment. Participants are the people a group
// appointment is made for besides its owner, each "auto" or "pending" as in
// AppointmentParticipantAdded: an appointment's creation is one event, so
// its version starts at 1. (Logs written before carry them as
// AppointmentParticipantAdded events following in the same batch.)
type AppointmentCreated struct {
	AppointmentID string    `json:"appointment_id"`
	OwnerID       string    `json:"owner_id"`
	GroupID       string    `json:"group_id"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	Location      string    `json:"location"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Privacy       string    `json:"privacy"`
	Status        string    `json:"status"`
	Participants  []Invitee `json:"participants,omitempty"`
}

// schemaVersion writes an appointment created without participants (every
// personal one) at version 1, which every build reads: only a group
// appointment needs version 2.
func (e AppointmentCreated) schemaVersion() int {
	if len(e.Participants) == 0 {
		return 1
	}
	return 2
}

// appointmentCreatedV1 is AppointmentCreated as schema version 1 wrote it,
// without participants.
type appointmentCreatedV1 struct {
	AppointmentID string    `json:"appointment_id"`
	OwnerID       string    `json:"owner_id"`
	GroupID       string    `json:"group_id"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	Location      string    `json:"location"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Privacy       string    `json:"privacy"`
	Status        string    `json:"status"`
}

// Invitee is one participant an appointment is created with: UserID takes
// part with Status "auto" (imposed) or "pending" (invited).
type Invitee struct {
	UserID string `json:"user_id"`
	Status string `json:"status"`
}

// AppointmentUpdated carries the whole new state of the editable fields, so
// a projection never has to merge partial updates.
type AppointmentUpdated struct {
	AppointmentID string    `json:"appointment_id"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	Location      string    `json:"location"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Privacy       string    `json:"privacy"`
}

// AppointmentDeleted ends an appointment stream.
type AppointmentDeleted struct {
	AppointmentID string `json:"appointment_id"`
}

// AppointmentParticipantAdded makes a user a participant of a group
// appointment: Status is "auto" (imposed by a superior, already in their
// agenda and blocking) or "pending" (an invitation to accept or decline).
// AppointmentCreated carries the participants since its schema 2 (event
// level 2); this event is written, one per participant, only while the
// cluster is below that level, and logs written before hold it too.
type AppointmentParticipantAdded struct {
	AppointmentID string `json:"appointment_id"`
	UserID        string `json:"user_id"`
	Status        string `json:"status"`
}

// AppointmentParticipantRemoved ends a user's part in a group appointment
// because they left the group or were removed from it (Reason "left" or
// "removed"): imposed or accepted, it leaves their agenda; an invitation is
// withdrawn. They are no longer listed among its participants.
type AppointmentParticipantRemoved struct {
	AppointmentID string `json:"appointment_id"`
	UserID        string `json:"user_id"`
	Reason        string `json:"reason"`
}

// Reasons of an AppointmentParticipantRemoved.
const (
	ParticipantLeft    = "left"
	ParticipantRemoved = "removed"
)

// AppointmentAccepted records that an invited participant accepted.
type AppointmentAccepted struct {
	AppointmentID string `json:"appointment_id"`
	UserID        string `json:"user_id"`
}

// AppointmentDeclined records that a participant declined. In a flat group
// it is followed in the same batch by AppointmentCancelled.
type AppointmentDeclined struct {
	AppointmentID string `json:"appointment_id"`
	UserID        string `json:"user_id"`
}

// AppointmentConfirmed records that the last invited participant of a
// flat-group appointment accepted: it now holds for everyone.
type AppointmentConfirmed struct {
	AppointmentID string `json:"appointment_id"`
}

// AppointmentCancelled records that a group appointment no longer holds
// for anyone. Reason is "declined" (a participant of a flat group declined)
// "deleted" (the organiser deleted it) or "organiser_left" (the organiser
// left the group, or was removed, before it ended). The appointment stays readable by
// its participants, with status "cancelled".
type AppointmentCancelled struct {
	AppointmentID string `json:"appointment_id"`
	Reason        string `json:"reason"`
}

// Reasons of an AppointmentCancelled.
const (
	CancelledDeclined = "declined"
	CancelledDeleted  = "deleted"
	// CancelledOrganiserLeft: the organiser stopped taking part in the
	// group's appointments by leaving the group or being removed from it
	// (the event's actor tells which: the organiser, or who removed them).
	CancelledOrganiserLeft = "organiser_left"
)

// EventType implements Event; the names are the registered type names.
func (AppointmentCreated) EventType() string          { return "appointment.created" }
func (AppointmentUpdated) EventType() string          { return "appointment.updated" }
func (AppointmentDeleted) EventType() string          { return "appointment.deleted" }
func (AppointmentParticipantAdded) EventType() string { return "appointment.participant_added" }
func (AppointmentAccepted) EventType() string         { return "appointment.accepted" }
func (AppointmentParticipantRemoved) EventType() string {
	return "appointment.participant_removed"
}
func (AppointmentDeclined) EventType() string  { return "appointment.declined" }
func (AppointmentConfirmed) EventType() string { return "appointment.confirmed" }
func (AppointmentCancelled) EventType() string { return "appointment.cancelled" }

func init() {
	// Version 2 carries the participants a group appointment is created
	// with; in version 1 AppointmentParticipantAdded events followed. A
	// build that knows only version 1 halts on version 2 (it would refuse
	// the unknown field as malformed, unlike the replicas that know it), so
	// an appointment without participants is still written at version 1.
	register[AppointmentCreated]("appointment.created", 2)
	registerPast("appointment.created", 1, func(v1 appointmentCreatedV1) AppointmentCreated {
		return AppointmentCreated{AppointmentID: v1.AppointmentID, OwnerID: v1.OwnerID, GroupID: v1.GroupID,
			Title: v1.Title, Description: v1.Description, Location: v1.Location, Start: v1.Start, End: v1.End,
			Privacy: v1.Privacy, Status: v1.Status}
	})
	register[AppointmentParticipantRemoved]("appointment.participant_removed", 1)
	register[AppointmentUpdated]("appointment.updated", 1)
	register[AppointmentDeleted]("appointment.deleted", 1)
	register[AppointmentParticipantAdded]("appointment.participant_added", 1)
	register[AppointmentAccepted]("appointment.accepted", 1)
	register[AppointmentDeclined]("appointment.declined", 1)
	register[AppointmentConfirmed]("appointment.confirmed", 1)
	register[AppointmentCancelled]("appointment.cancelled", 1)
}
