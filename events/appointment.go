package events

import "time"

// AppointmentStream is the stream of one appointment; its version is the
// appointment's resource version.
func AppointmentStream(appointmentID string) string { return "appointment-" + appointmentID }

// AppointmentCreated is the first event of an appointment stream. GroupID is
// empty for a personal appointment.
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

// EventType implements Event; the names are the registered type names.
func (AppointmentCreated) EventType() string { return "appointment.created" }
func (AppointmentUpdated) EventType() string { return "appointment.updated" }
func (AppointmentDeleted) EventType() string { return "appointment.deleted" }

func init() {
	register[AppointmentCreated]("appointment.created", 1)
	register[AppointmentUpdated]("appointment.updated", 1)
	register[AppointmentDeleted]("appointment.deleted", 1)
}
