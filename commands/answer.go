package commands

import (
	"sort"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// A write answers with the state its own events produced. Reading the read
// model after the write committed is not that: by the time the local read
// model shows the write, a later write may have changed or deleted the
// resource, and the answer (and its ETag) would describe a state the client
// never produced — a client sending If-Match with that ETag would overwrite
// a change it never saw.
//
// The batch commits only if every stream it expects is still at the version
// the command read, so the state a command decided on plus the events of its
// batch is exactly the state the batch leaves behind. The fold functions
// below apply a batch's events to that state the way the projections do.

// appointmentAfter returns appointment id as the events of b leave it, seen
// by viewer, starting from before (the state the command read; zero for an
// appointment the batch creates). usernames names the users the batch makes
// participants. ok is false if the batch deletes the appointment.
func appointmentAfter(before agenda.Appointment, b *events.Batch, id, viewer string, usernames map[string]string) (a agenda.Appointment, ok bool) {
	a = before
	a.Participants = append([]agenda.Participant(nil), before.Participants...)
	stream := events.AppointmentStream(id)
	exists := before.ID != ""
	setParticipant := func(userID, status string) {
		for i := range a.Participants {
			if a.Participants[i].UserID == userID {
				a.Participants[i].Status = status
				return
			}
		}
		a.Participants = append(a.Participants, agenda.Participant{UserID: userID, Username: usernames[userID], Status: status})
	}
	for i := range b.Events {
		env := &b.Events[i]
		if env.Stream != stream {
			continue
		}
		ev, err := env.Decode()
		if err != nil {
			continue // Propose refuses the batch before it commits
		}
		switch e := ev.(type) {
		case events.AppointmentCreated:
			a = agenda.Appointment{ID: e.AppointmentID, OwnerID: e.OwnerID, GroupID: nullable(e.GroupID),
				Title: e.Title, Description: e.Description, Location: e.Location, Start: e.Start, End: e.End,
				Privacy: e.Privacy, Status: e.Status, CreatedAt: env.Time}
			exists = true
			setParticipant(e.OwnerID, agenda.RoleOwner)
		case events.AppointmentUpdated:
			a.Title, a.Description, a.Location = e.Title, e.Description, e.Location
			a.Start, a.End, a.Privacy = e.Start, e.End, e.Privacy
		case events.AppointmentDeleted:
			exists = false
		case events.AppointmentParticipantAdded:
			setParticipant(e.UserID, e.Status)
		case events.AppointmentAccepted:
			setParticipant(e.UserID, agenda.RoleAccepted)
		case events.AppointmentDeclined:
			setParticipant(e.UserID, agenda.RoleDeclined)
		case events.AppointmentConfirmed:
			a.Status = agenda.StatusConfirmed
		case events.AppointmentCancelled:
			a.Status = agenda.StatusCancelled
		}
		a.UpdatedAt, a.Version, a.OriginNode = env.Time, env.Version, env.OriginNode
	}
	if !exists {
		return agenda.Appointment{}, false
	}
	// The order the read model lists them in.
	sort.SliceStable(a.Participants, func(i, j int) bool {
		pi, pj := a.Participants[i], a.Participants[j]
		if pi.Username != pj.Username {
			return pi.Username < pj.Username
		}
		return pi.UserID < pj.UserID
	})
	a.MyStatus = ""
	for _, p := range a.Participants {
		if p.UserID == viewer {
			a.MyStatus = p.Status
		}
	}
	return a, true
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// answerAppointment records, on a decided batch, the appointment as the
// batch leaves it, for the command's Result.
func (b *batch) answerAppointment(before agenda.Appointment, id, viewer string, usernames map[string]string) {
	if a, ok := appointmentAfter(before, &b.b, id, viewer, usernames); ok {
		b.appointment = &a
	}
}
