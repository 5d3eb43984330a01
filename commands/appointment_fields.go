package commands

import (
	"strings"
	"time"

	"github.com/agendahq/agenda"
)

// AppointmentFields are the editable fields of an appointment.
type appointmentFields struct {
	Title, Description, Location string
	Start, End                   time.Time
	Privacy                      string
}

// validate checks f and puts it in its stored form. was, if not nil, is
// the appointment f changes: a name or a time it keeps as stored is not
// checked again by rules newer than it (validateName, the shortest
// length), so that an appointment written before them can still be moved
// or described.
func (f *appointmentFields) validate(was *agenda.Appointment) error {
	f.Title = strings.TrimSpace(f.Title)
	if blank(f.Title) {
		return invalid("title", "title is required")
	}
	if err := validateText("title", f.Title, 200); err != nil {
		return err
	}
	if strings.ContainsAny(f.Title, "\n\r") {
		return invalid("title", "title must be one line")
	}
	if was == nil || f.Title != was.Title {
		if err := validateName("title", f.Title); err != nil {
			return err
		}
	}
	if err := validateText("description", f.Description, 2000); err != nil {
		return err
	}
	if was == nil || f.Description != was.Description {
		if err := validateNewText("description", f.Description); err != nil {
			return err
		}
	}
	if err := validateText("location", f.Location, 200); err != nil {
		return err
	}
	if was == nil || f.Location != was.Location {
		if err := validateName("location", f.Location); err != nil {
			return err
		}
	}
	if err := ValidateInterval(f.Start, f.End, agenda.MaxAppointmentDuration); err != nil {
		return err
	}
	if (was == nil || !f.Start.Equal(was.Start) || !f.End.Equal(was.End)) && f.End.Sub(f.Start) < agenda.MinAppointmentDuration {
		return invalid("end", "an appointment lasts at least %s", agenda.SpanWords(agenda.MinAppointmentDuration))
	}
	f.Start, f.End = f.Start.UTC(), f.End.UTC()
	if f.Privacy == "" {
		f.Privacy = agenda.PrivacyFull
	}
	return validatePrivacy(f.Privacy)
}

// same says whether f (validated) is what a holds already: a change to it
// would change nothing.
func (f appointmentFields) same(a agenda.Appointment) bool {
	return f.Title == a.Title && f.Description == a.Description && f.Location == a.Location &&
		f.Start.Equal(a.Start) && f.End.Equal(a.End) && f.Privacy == a.Privacy
}
