package commands

import (
	"github.com/agendahq/agenda"
)

// clash is one person's blocking entries that overlap a requested slot.
type clash struct {
	userID string
	slots  []agenda.Slot
}

// scheduleConflict builds the error for overlaps in the agendas of one or
// more people, as viewerID may see them: their own slots in full, anyone
// else's only as busy time (no ID, no title), whatever the viewer may know
// of them otherwise.
func scheduleConflict(viewerID string, clashes ...clash) error {
	list := []map[string]any{}
	others := 0
	for _, c := range clashes {
		if c.userID != viewerID {
			others++
		}
		for _, s := range c.slots {
			if c.userID == viewerID {
				list = append(list, map[string]any{
					"user_id": c.userID, "appointment_id": s.AppointmentID, "title": s.Title, "start": s.Start, "end": s.End,
				})
			} else {
				list = append(list, map[string]any{"user_id": c.userID, "start": s.Start, "end": s.End, "busy": true})
			}
		}
	}
	msg := "the appointment overlaps %d of your appointments"
	if others > 0 && len(list) == 1 {
		msg = "the appointment overlaps %d busy slot of its participants"
	} else if others > 0 {
		msg = "the appointment overlaps %d busy slots of its participants"
	}
	return agenda.Errorf(agenda.ESCHEDULECONFLICT, msg, len(list)).
		WithDetails(map[string]any{"conflicts": list})
}
