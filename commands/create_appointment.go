package commands

import (
	"context"
	"strings"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// CreateAppointment books a personal appointment in the owner's agenda.
type CreateAppointment struct {
	OwnerID     string
	Title       string
	Description string
	Location    string
	Start       time.Time
	End         time.Time
	Privacy     string // "" means full
}

// AppointmentFields are the editable fields of an appointment.
type appointmentFields struct {
	Title, Description, Location string
	Start, End                   time.Time
	Privacy                      string
}

func (f *appointmentFields) validate() error {
	f.Title = strings.TrimSpace(f.Title)
	if f.Title == "" {
		return invalid("title", "title is required")
	}
	if err := validateText("title", f.Title, 200); err != nil {
		return err
	}
	if strings.ContainsAny(f.Title, "\n\r") {
		return invalid("title", "title must be one line")
	}
	if err := validateText("description", f.Description, 2000); err != nil {
		return err
	}
	if err := validateText("location", f.Location, 200); err != nil {
		return err
	}
	if err := ValidateInterval(f.Start, f.End, agenda.MaxAppointmentDuration); err != nil {
		return err
	}
	f.Start, f.End = f.Start.UTC(), f.End.UTC()
	if f.Privacy == "" {
		f.Privacy = agenda.PrivacyFull
	}
	return validatePrivacy(f.Privacy)
}

// scheduleConflict builds the error for an overlap in userID's agenda as
// viewerID may see it: their own slots in full, anyone else's only as busy
// time (no ID, no title).
func scheduleConflict(viewerID, userID string, slots []agenda.Slot) error {
	list := make([]map[string]any, 0, len(slots))
	for _, s := range slots {
		if userID == viewerID {
			list = append(list, map[string]any{
				"appointment_id": s.AppointmentID, "title": s.Title, "start": s.Start, "end": s.End,
			})
		} else {
			list = append(list, map[string]any{"user_id": userID, "start": s.Start, "end": s.End, "busy": true})
		}
	}
	msg := "the appointment overlaps %d of your appointments"
	if userID != viewerID {
		msg = "the appointment overlaps %d busy slots of a participant"
	}
	return agenda.Errorf(agenda.ESCHEDULECONFLICT, msg, len(slots)).
		WithDetails(map[string]any{"conflicts": list})
}

// CreateAppointment creates a personal appointment. EINVALID for bad fields,
// ESCHEDULECONFLICT if it overlaps the owner's confirmed, imposed or accepted
// appointments. Two concurrent overlapping creations cannot both succeed:
// each expects the owner's agenda stream at the version it checked.
func (h *Handlers) CreateAppointment(ctx context.Context, cmd CreateAppointment) (Result, error) {
	f := appointmentFields{Title: cmd.Title, Description: cmd.Description, Location: cmd.Location,
		Start: cmd.Start, End: cmd.End, Privacy: cmd.Privacy}
	if err := f.validate(); err != nil {
		return Result{}, err
	}
	id := h.newID()
	return h.execute(ctx, id, func() (*batch, error) {
		s, err := h.Read.Schedule(ctx, cmd.OwnerID, f.Start, f.End, "")
		if err != nil {
			return nil, err
		}
		if len(s.Conflicts) > 0 {
			return nil, scheduleConflict(cmd.OwnerID, cmd.OwnerID, s.Conflicts)
		}
		b := h.newBatch(ctx, cmd.OwnerID)
		b.expect(events.AppointmentStream(id), 0)
		b.expect(events.AgendaStream(cmd.OwnerID), s.Version)
		b.add(events.AppointmentStream(id), events.AppointmentCreated{
			AppointmentID: id, OwnerID: cmd.OwnerID, Title: f.Title, Description: f.Description,
			Location: f.Location, Start: f.Start, End: f.End, Privacy: f.Privacy, Status: agenda.StatusConfirmed,
		})
		b.add(events.AgendaStream(cmd.OwnerID), events.AgendaEntryAdded{
			UserID: cmd.OwnerID, AppointmentID: id, Start: f.Start, End: f.End, Role: agenda.RoleOwner,
		})
		return b, nil
	})
}
