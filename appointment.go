package agenda

import "time"

// Appointment is an appointment as its participants see it.
type Appointment struct {
	ID          string    `json:"id"`
	OwnerID     string    `json:"owner_id"`
	GroupID     *string   `json:"group_id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Location    string    `json:"location"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Privacy     string    `json:"privacy"`
	Status      string    `json:"status"`
	MyStatus    string    `json:"my_status"`
	// NeedsAll is true for an appointment that holds only once every
	// invitee accepts (a flat group's); one decline cancels it.
	NeedsAll     bool          `json:"-"`
	Participants []Participant `json:"participants"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	Version      int64         `json:"version"`
	OriginNode   string        `json:"origin_node"`
}

// Participant is one person's part in an appointment.
type Participant struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	// DisplayName is as Member's.
	DisplayName string `json:"display_name"`
	Status      string `json:"status"`
}

// Entry is one appointment in a user's agenda (what GET /api/agenda lists,
// the schema AgendaEntry of the HTTP contract), with that user's status in
// it. Callers write agenda.Entry: the package name already says whose entry
// it is.
type Entry struct {
	AppointmentID string    `json:"appointment_id"`
	GroupID       *string   `json:"group_id"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	Location      string    `json:"location"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Privacy       string    `json:"privacy"`
	Status        string    `json:"status"`
	MyStatus      string    `json:"my_status"`
	Pending       bool      `json:"pending"`
	Version       int64     `json:"version"`
	OriginNode    string    `json:"origin_node"`
}

// Slot is a clashing appointment reported with a schedule conflict.
type Slot struct {
	AppointmentID string    `json:"appointment_id"`
	Title         string    `json:"title"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
}

// Schedule is what a command needs to book a user's time: the version of
// the user's schedule stream and the blocking entries that overlap the
// requested interval, read in one transaction so they agree.
type Schedule struct {
	Version   int64
	Conflicts []Slot
}
