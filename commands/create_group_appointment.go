package commands

import (
	"context"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// CreateGroupAppointment sets an appointment for a group, organised by the
// actor.
type CreateGroupAppointment struct {
	ActorID     string
	GroupID     string
	Title       string
	Description string
	Location    string
	Start       time.Time
	End         time.Time
	Privacy     string
}

// CreateGroupAppointment creates a group appointment. In a hierarchical
// group it is imposed ("auto") on every member ranked below the organiser and
// goes as an invitation to the others; in a flat group every other member is
// invited and it stays pending until all accept. People invited to the group
// who have not accepted take no part.
//
// The organiser's and every imposed member's agendas must be free
// (ESCHEDULECONFLICT, listing every clash as the organiser may see it). The
// appointment, its participants and every agenda entry commit in one batch
// that expects the group stream and every participant's schedule stream at the
// versions read, so no membership change or concurrent booking can slip in
// between the check and the commit. An invitee who already has
// agenda.MaxPendingInvitations invitations of the group waiting is not
// invited again (ECONFLICT, agenda.TooManyPendingInvitations). ENOTFOUND for
// non-members, EINVALID.
func (h *Handlers) CreateGroupAppointment(ctx context.Context, cmd CreateGroupAppointment) (Result, error) {
	f := appointmentFields{Title: cmd.Title, Description: cmd.Description, Location: cmd.Location,
		Start: cmd.Start, End: cmd.End, Privacy: cmd.Privacy}
	if err := f.validate(nil); err != nil {
		return Result{}, err
	}
	id := h.newID()
	return h.execute(ctx, id, func() (*batch, error) {
		g, err := h.Read.Group(ctx, cmd.GroupID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		type invitee struct {
			userID, role string
			version      int64
		}
		var invitees []invitee
		var clashes []clash
		var flooded []string         // invitees at agenda.MaxPendingInvitations
		members := g.ActiveMembers() // nothing is imposed on invited people
		for _, m := range members {
			role := agenda.RolePending
			switch {
			case m.UserID == cmd.ActorID:
				role = agenda.RoleOwner
			case g.CanManage(m.Rank):
				role = agenda.RoleAuto
			}
			s, err := h.Read.Schedule(ctx, m.UserID, f.Start, f.End, "")
			if err != nil {
				return nil, err
			}
			if agenda.Blocks(role) && len(s.Conflicts) > 0 {
				clashes = append(clashes, clash{m.UserID, s.Conflicts})
			}
			if role == agenda.RolePending {
				// Expecting the member's agenda stream (below) also
				// vouches for this count: every invitation adds an entry.
				n, err := h.Read.PendingInvitations(ctx, g.ID, m.UserID, h.now(), agenda.MaxPendingInvitations)
				if err != nil {
					return nil, err
				}
				if n >= agenda.MaxPendingInvitations {
					flooded = append(flooded, m.UserID)
				}
			}
			invitees = append(invitees, invitee{m.UserID, role, s.Version})
		}
		if len(clashes) > 0 {
			return nil, scheduleConflict(cmd.ActorID, clashes...)
		}
		if len(flooded) > 0 {
			return nil, agenda.TooManyPendingInvitations(flooded)
		}
		status := agenda.StatusConfirmed
		if !g.Hierarchical && len(members) > 1 {
			status = agenda.StatusPending
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(g.ID), g.Version)
		b.expect(events.AppointmentStream(id), 0)
		var participants []events.Invitee
		for _, p := range invitees {
			if p.role != agenda.RoleOwner {
				participants = append(participants, events.Invitee{UserID: p.userID, Status: p.role})
			}
		}
		created := events.AppointmentCreated{
			AppointmentID: id, OwnerID: cmd.ActorID, GroupID: g.ID, Title: f.Title, Description: f.Description,
			Location: f.Location, Start: f.Start, End: f.End, Privacy: f.Privacy, Status: status,
			Participants: participants,
		}
		// Older builds read the participants only as events of their own.
		inline := b.clusterReads("appointment.created", 2)
		if !inline {
			created.Participants = nil
		}
		b.add(events.AppointmentStream(id), created)
		if !inline {
			for _, p := range participants {
				b.add(events.AppointmentStream(id), events.AppointmentParticipantAdded{
					AppointmentID: id, UserID: p.UserID, Status: p.Status,
				})
			}
		}
		for _, p := range invitees {
			b.expect(events.ScheduleStream(p.userID), p.version)
			b.add(events.ScheduleStream(p.userID), events.AgendaEntryAdded{
				UserID: p.userID, AppointmentID: id, Start: f.Start, End: f.End, Role: p.role,
			})
		}
		people := make(map[string]agenda.UserSummary, len(g.Members))
		for _, m := range g.Members {
			people[m.UserID] = m.Summary()
		}
		b.appointment = answer(appointmentAfter(agenda.Appointment{}, b, id, cmd.ActorID, people))
		return b, nil
	})
}
