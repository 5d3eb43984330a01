package commands

import (
	"context"
	"slices"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// UpdateAppointment changes an appointment; nil fields keep their value.
type UpdateAppointment struct {
	ActorID       string
	AppointmentID string
	Title         *string
	Description   *string
	Location      *string
	Start         *time.Time
	End           *time.Time
	Privacy       *string
	// IfMatch holds the versions the caller accepts (its ETag).
	IfMatch IfMatch
}

// UpdateAppointment edits an appointment. ENOTFOUND if the caller cannot see
// it, EFORBIDDEN unless the caller owns it (and, for a group appointment, is
// still a member of its group, which still exists: otherwise it may only be
// cancelled), EPRECONDITIONFAILED if IfMatch is stale, EINVALID, and
// ESCHEDULECONFLICT if a new time overlaps an appointment of the owner's or
// of a participant it blocks. A new time reaches every participant's agenda;
// EFORBIDDEN if it would be imposed on a member the organiser no longer
// ranks above; ECONFLICT (agenda.TooManyPendingInvitations) if it moves an
// ended group appointment to a time still to come for an invitee who
// already has agenda.MaxPendingInvitations invitations of the group waiting.
// Any change to a group appointment first ends the part of those no longer
// in the group (it had ended when they left): they learn nothing of it.
func (h *Handlers) UpdateAppointment(ctx context.Context, cmd UpdateAppointment) (Result, error) {
	// A privacy given must be one: "" is not "keep" nor "full" here, and
	// turning freebusy into full by accident would reveal the details.
	if cmd.Privacy != nil {
		if err := validatePrivacy(*cmd.Privacy); err != nil {
			return Result{}, err
		}
	}
	return h.execute(ctx, cmd.AppointmentID, func() (*batch, error) {
		a, err := h.Read.Appointment(ctx, cmd.AppointmentID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if a.OwnerID != cmd.ActorID {
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "only the owner may change an appointment")
		}
		if err := checkIfMatch("appointment", cmd.IfMatch, a.Version); err != nil {
			return nil, err
		}
		if a.Status == agenda.StatusCancelled {
			return nil, agenda.Errorf(agenda.ECONFLICT, "the appointment is cancelled")
		}
		var g agenda.Group
		if a.GroupID != nil {
			// A group's appointment is the group's business: changed by an
			// organiser who is still a member, against the group as it is.
			if g, err = h.Read.Group(ctx, *a.GroupID, cmd.ActorID); agenda.ErrorCode(err) == agenda.ENOTFOUND {
				return nil, agenda.Errorf(agenda.EFORBIDDEN,
					"you are no longer a member of this appointment's group (or it was deleted): you may only cancel it")
			} else if err != nil {
				return nil, err
			}
		}
		f := appointmentFields{Title: a.Title, Description: a.Description, Location: a.Location,
			Start: a.Start, End: a.End, Privacy: a.Privacy}
		set(&f.Title, cmd.Title)
		set(&f.Description, cmd.Description)
		set(&f.Location, cmd.Location)
		set(&f.Start, cmd.Start)
		set(&f.End, cmd.End)
		set(&f.Privacy, cmd.Privacy)
		if err := f.validate(&a); err != nil {
			return nil, err
		}
		gone := goneFrom(a, g)
		same := f.same(a)
		if same && len(gone) == 0 {
			// Nothing to change: no event, no new version (which would
			// stale every other client's ETag), no "updated" notice to
			// every participant (a review found a repeated PATCH doing
			// all three).
			b := unchanged()
			b.appointment = &a
			return b, nil
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.AppointmentStream(a.ID), a.Version)
		// Those no longer in the group still take part only because the
		// appointment had ended when they left. A change makes it the
		// group's business again: their part ends first, as leaving would
		// have ended it, so that the change reaches members only (neither
		// its new details nor a check of their busy time reach them).
		if g.ID != "" {
			b.expect(events.GroupStream(g.ID), g.Version)
			for _, p := range a.Participants {
				if !slices.Contains(gone, p.UserID) {
					continue
				}
				b.add(events.AppointmentStream(a.ID), events.AppointmentParticipantRemoved{
					AppointmentID: a.ID, UserID: p.UserID, Reason: events.ParticipantLeft,
				})
				if err := h.removeEntries(ctx, b, a.ID, []agenda.Participant{p}); err != nil {
					return nil, err
				}
			}
		}
		if !same {
			// Else only the part of those gone ends: nothing for the
			// others to hear of.
			b.add(events.AppointmentStream(a.ID), events.AppointmentUpdated{
				AppointmentID: a.ID, Title: f.Title, Description: f.Description, Location: f.Location,
				Start: f.Start, End: f.End, Privacy: f.Privacy,
			})
		}
		if !f.Start.Equal(a.Start) || !f.End.Equal(a.End) {
			// Every participant who has the appointment in their agenda
			// follows it; those whose time it blocks must be free then. A
			// new time imposes anew: not on members the organiser no
			// longer ranks above (a review found a demoted organiser moving
			// an imposition on a member now senior to them).
			if unbound := unboundImpositions(a, g, gone); len(unbound) > 0 {
				return nil, agenda.Errorf(agenda.EFORBIDDEN,
					"a new time cannot be imposed on members you no longer rank above (%d of them): "+
						"they may decline it as it stands; to move it, cancel it and set a new one, which invites them", len(unbound)).WithDetails(map[string]any{"user_ids": unbound})
			}
			// A group appointment that had ended and is moved to a time
			// still to come makes its unanswered invitations count in the
			// bound again (agenda.MaxPendingInvitations), which counts only
			// appointments that have not ended: a review set 10,400 in
			// 2016 and moved them all into one week of 2027, which the
			// invitee could no longer read.
			now := h.now()
			revives := g.ID != "" && !a.End.After(now) && f.End.After(now)
			var clashes []clash
			var flooded []string
			for _, p := range a.Participants {
				if p.Status == agenda.RoleDeclined || slices.Contains(gone, p.UserID) {
					continue
				}
				s, err := h.Read.Schedule(ctx, p.UserID, f.Start, f.End, a.ID)
				if err != nil {
					return nil, err
				}
				if agenda.Blocks(p.Status) && len(s.Conflicts) > 0 {
					clashes = append(clashes, clash{p.UserID, s.Conflicts})
				}
				if revives && p.Status == agenda.RolePending {
					// The entry rescheduled below expects the invitee's
					// agenda stream, which vouches for this count too.
					n, err := h.Read.PendingInvitations(ctx, g.ID, p.UserID, now, agenda.MaxPendingInvitations)
					if err != nil {
						return nil, err
					}
					if n >= agenda.MaxPendingInvitations {
						flooded = append(flooded, p.UserID)
					}
				}
				b.expect(events.ScheduleStream(p.UserID), s.Version)
				b.add(events.ScheduleStream(p.UserID), events.AgendaEntryRescheduled{
					UserID: p.UserID, AppointmentID: a.ID, Start: f.Start, End: f.End,
				})
			}
			if len(clashes) > 0 {
				return nil, scheduleConflict(cmd.ActorID, clashes...)
			}
			if len(flooded) > 0 {
				return nil, agenda.TooManyPendingInvitations(flooded)
			}
		}
		if len(gone) > 0 && a.Status == agenda.StatusPending && allAcceptedBut(a, gone...) {
			// A flat group's appointment that waited only for them.
			b.add(events.AppointmentStream(a.ID), events.AppointmentConfirmed{AppointmentID: a.ID})
		}
		b.appointment = answer(appointmentAfter(a, b, a.ID, cmd.ActorID, nil))
		return b, nil
	})
}

// unboundImpositions lists the participants of a on whom it is imposed
// (auto) although the group g as it is no longer imposes it: its organiser
// ranks level with or below them now. Those gone from the group are not
// counted: their part ends first.
func unboundImpositions(a agenda.Appointment, g agenda.Group, gone []string) []string {
	var out []string
	for _, p := range a.Participants {
		if p.Status == agenda.RoleAuto && !slices.Contains(gone, p.UserID) && !g.Imposes(a.OwnerID, p.UserID) {
			out = append(out, p.UserID)
		}
	}
	return out
}

// goneFrom lists the participants of a no longer in its group g (none for a
// personal appointment): a change, any change, ends their part first.
func goneFrom(a agenda.Appointment, g agenda.Group) []string {
	var gone []string
	if g.ID == "" {
		return nil
	}
	for _, p := range a.Participants {
		if m, ok := g.Member(p.UserID); !ok || !m.Active() {
			gone = append(gone, p.UserID)
		}
	}
	return gone
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
