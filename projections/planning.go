package projections

import (
	"fmt"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// PlanningProjection builds everything people plan with: appointments and
// their participants, each user's agenda entries and agenda stream version
// (which commands expect when they book time), groups and their members,
// the notifications derived from all of these, and each user's feed. They
// share one checkpoint so that a command or a group view never pairs a
// membership with entries from another moment (see
// readmodel.ProjectionPlanning).
type PlanningProjection struct{}

// Name implements Projection.
func (PlanningProjection) Name() string { return readmodel.ProjectionPlanning }

// EventTypes implements Projection: the keys of its dispatch table.
func (PlanningProjection) EventTypes() []string { return planningHandlers.eventTypes() }

// Handle implements Projection. Every event also gets its per-user feed
// entries (see feed), decided in the same transaction.
func (PlanningProjection) Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	f, err := feedBefore(tx, env, ev)
	if err != nil {
		return err
	}
	if err := planningHandlers.handle(readmodel.ProjectionPlanning, tx, env, ev); err != nil {
		return err
	}
	return f.after(ev)
}

// planningHandlers is PlanningProjection's dispatch table.
var planningHandlers = func() dispatch {
	d := dispatch{}
	appointmentHandlers(d)
	agendaEntryHandlers(d)
	groupHandlers(d)
	invitationHandlers(d)
	notificationHandlers(d)
	// A display name shows in members and agenda rows, read from the
	// users projection's table: planning only tells it (see feed).
	on(d, func(*readmodel.Tx, *events.Envelope, events.UserProfileChanged) error { return nil })
	return d
}()

func appointmentHandlers(d dispatch) {
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentCreated) error {
		err := tx.InsertAppointment(readmodel.AppointmentRecord{
			ID: e.AppointmentID, OwnerID: e.OwnerID, GroupID: e.GroupID,
			Title: e.Title, Description: e.Description, Location: e.Location,
			Start: e.Start, End: e.End, Privacy: e.Privacy, Status: e.Status,
			CreatedAt: env.Time, UpdatedAt: env.Time, Version: env.Version, OriginNode: env.OriginNode,
		})
		if err != nil {
			return err
		}
		if err := tx.SetParticipant(e.AppointmentID, e.OwnerID, agenda.RoleOwner, env.Version, env.OriginNode); err != nil {
			return err
		}
		for _, p := range e.Participants {
			if err := addParticipant(tx, env, e.AppointmentID, p.UserID, p.Status); err != nil {
				return err
			}
		}
		return nil
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentUpdated) error {
		err := tx.UpdateAppointment(readmodel.AppointmentRecord{
			ID: e.AppointmentID, Title: e.Title, Description: e.Description, Location: e.Location,
			Start: e.Start, End: e.End, Privacy: e.Privacy,
			UpdatedAt: env.Time, Version: env.Version, OriginNode: env.OriginNode,
		})
		if err != nil {
			return err
		}
		return notifier{tx, env}.participants(e.AppointmentID, agenda.NotifyUpdated, nil)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentDeleted) error {
		return tx.DeleteAppointment(e.AppointmentID)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentParticipantAdded) error {
		if err := tx.TouchAppointment(e.AppointmentID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return addParticipant(tx, env, e.AppointmentID, e.UserID, e.Status)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentParticipantRemoved) error {
		if err := tx.RemoveParticipant(e.AppointmentID, e.UserID); err != nil {
			return err
		}
		if err := tx.TouchAppointment(e.AppointmentID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		// The organiser learns who no longer comes (a review found them
		// told nothing), unless they did it themselves.
		return notifier{tx, env}.appointment(e.AppointmentID, agenda.NotifyParticipantRemoved,
			toOrganiser,
			map[string]any{"user_id": e.UserID, "reason": e.Reason})
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentAccepted) error {
		return answer(tx, env, e.AppointmentID, e.UserID, agenda.RoleAccepted, agenda.NotifyAccepted)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentDeclined) error {
		return answer(tx, env, e.AppointmentID, e.UserID, agenda.RoleDeclined, agenda.NotifyDeclined)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentConfirmed) error {
		if err := tx.SetAppointmentStatus(e.AppointmentID, agenda.StatusConfirmed, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return notifier{tx, env}.participants(e.AppointmentID, agenda.NotifyConfirmed, nil)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AppointmentCancelled) error {
		if err := tx.SetAppointmentStatus(e.AppointmentID, agenda.StatusCancelled, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return notifier{tx, env}.participants(e.AppointmentID, agenda.NotifyCancelled, map[string]any{"reason": e.Reason})
	})
}

// addParticipant makes userID a participant of an appointment with status
// "auto" or "pending", and tells them: of an appointment imposed on them, or
// of an invitation.
func addParticipant(tx *readmodel.Tx, env *events.Envelope, appointmentID, userID, status string) error {
	if err := tx.SetParticipant(appointmentID, userID, status, env.Version, env.OriginNode); err != nil {
		return err
	}
	typ := agenda.NotifyInvitation
	if status == agenda.RoleAuto {
		typ = agenda.NotifyImposed
	}
	return notifier{tx, env}.appointment(appointmentID, typ, onlyTo(func(readmodel.AppointmentInfo) string { return userID }), nil)
}

// answer records a participant's acceptance or refusal and tells the
// organiser.
func answer(tx *readmodel.Tx, env *events.Envelope, appointmentID, userID, status, typ string) error {
	if err := tx.SetParticipant(appointmentID, userID, status, env.Version, env.OriginNode); err != nil {
		return err
	}
	if err := tx.TouchAppointment(appointmentID, env.Time, env.Version, env.OriginNode); err != nil {
		return err
	}
	return notifier{tx, env}.appointment(appointmentID, typ, toOrganiser,
		map[string]any{"user_id": userID})
}

// agendaEntryHandlers keep each user's agenda entries and the version of
// their agenda stream.
func agendaEntryHandlers(d dispatch) {
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AgendaEntryAdded) error {
		if err := tx.AddAgendaEntry(e.UserID, e.AppointmentID, e.Start, e.End, e.Role, env.OriginNode); err != nil {
			return err
		}
		return tx.SetAgendaVersion(e.UserID, env.Version, env.OriginNode)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AgendaEntryRescheduled) error {
		if err := tx.RescheduleAgendaEntry(e.UserID, e.AppointmentID, e.Start, e.End, env.OriginNode); err != nil {
			return err
		}
		return tx.SetAgendaVersion(e.UserID, env.Version, env.OriginNode)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AgendaEntryRemoved) error {
		if err := tx.RemoveAgendaEntry(e.UserID, e.AppointmentID); err != nil {
			return err
		}
		return tx.SetAgendaVersion(e.UserID, env.Version, env.OriginNode)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.AgendaEntryRoleChanged) error {
		if err := tx.ChangeAgendaEntryRole(e.UserID, e.AppointmentID, e.Role, env.OriginNode); err != nil {
			return err
		}
		return tx.SetAgendaVersion(e.UserID, env.Version, env.OriginNode)
	})
}

// groupHandlers keep groups and their active members.
func groupHandlers(d dispatch) {
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupCreated) error {
		err := tx.InsertGroup(readmodel.GroupRecord{ID: e.GroupID, Name: e.Name, Description: e.Description,
			CreatorID: e.CreatorID, Hierarchical: e.Hierarchical, At: env.Time, Version: env.Version, OriginNode: env.OriginNode})
		if err != nil || e.CreatorFollows {
			// The creator's GroupMemberAdded follows (schema version 1).
			return err
		}
		return tx.SetMember(e.GroupID, e.CreatorID, agenda.CreatorRank(e.Hierarchical), env.Time, env.OriginNode)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupUpdated) error {
		return tx.UpdateGroup(readmodel.GroupRecord{ID: e.GroupID, Name: e.Name, Description: e.Description,
			At: env.Time, Version: env.Version, OriginNode: env.OriginNode})
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupDeleted) error {
		// The people invited hear that their invitation ended with the
		// group, as when it is withdrawn; its members, that the group is
		// gone (reviews found each told nothing: the group just vanished
		// from their lists).
		invitees, err := tx.GroupInviteeIDs(e.GroupID)
		if err != nil {
			return err
		}
		for _, u := range invitees {
			if err := (notifier{tx, env}).group(e.GroupID, agenda.NotifyMemberRemoved, u,
				map[string]any{"user_id": u, "left": false, "deleted": true, "invited": true}); err != nil {
				return err
			}
		}
		members, err := tx.GroupMemberIDs(e.GroupID)
		if err != nil {
			return err
		}
		for _, u := range members {
			if err := (notifier{tx, env}).group(e.GroupID, agenda.NotifyGroupDeleted, u, map[string]any{"user_id": u}); err != nil {
				return err
			}
		}
		return tx.DeleteGroup(e.GroupID)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupMemberAdded) error {
		if err := tx.SetMember(e.GroupID, e.UserID, e.Rank, env.Time, env.OriginNode); err != nil {
			return err
		}
		if err := tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return notifier{tx, env}.group(e.GroupID, agenda.NotifyMemberAdded, e.UserID, map[string]any{"user_id": e.UserID, "rank": e.Rank})
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupMemberRankChanged) error {
		if err := tx.SetMember(e.GroupID, e.UserID, e.Rank, env.Time, env.OriginNode); err != nil {
			return err
		}
		if err := tx.RankInvitation(e.GroupID, e.UserID, env.Actor); err != nil {
			return err
		}
		if err := tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return notifier{tx, env}.group(e.GroupID, agenda.NotifyRankChanged, e.UserID, map[string]any{"user_id": e.UserID, "rank": e.Rank})
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupCreatorChanged) error {
		if err := tx.SetGroupCreator(e.GroupID, e.UserID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return notifier{tx, env}.group(e.GroupID, agenda.NotifyCreatorChanged, e.UserID, map[string]any{"user_id": e.UserID})
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupMemberRemoved) error {
		// Notify before removing, while the group still lists its creator
		// and tells a member from someone only invited.
		to := e.UserID
		payload := map[string]any{"user_id": e.UserID, "left": e.Left}
		if e.Left {
			g, err := tx.GroupInfo(e.GroupID)
			if err != nil {
				return err
			}
			to = ""
			if _, ok := g.Members[g.CreatorID]; ok && g.CreatorID != e.UserID {
				to = g.CreatorID
			}
		} else if status, err := tx.MemberStatus(e.GroupID, e.UserID); err != nil {
			return err
		} else if status == agenda.MemberInvited {
			// An invitation withdrawn: its recipient was not a member (a
			// walk-through read "you are no longer a member" as a removal).
			payload["invited"] = true
		}
		if to != "" {
			if err := (notifier{tx, env}).group(e.GroupID, agenda.NotifyMemberRemoved, to, payload); err != nil {
				return err
			}
		}
		if err := tx.RemoveMember(e.GroupID, e.UserID); err != nil {
			return err
		}
		return tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode)
	})
}

// invitationHandlers keep the pending invitations to groups.
func invitationHandlers(d dispatch) {
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupMemberInvited) error {
		if err := tx.InviteMember(e.GroupID, e.UserID, e.Rank, e.InvitedBy, env.Time, env.OriginNode); err != nil {
			return err
		}
		if err := tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		g, err := tx.GroupInfo(e.GroupID)
		if err != nil {
			return err
		}
		return notifier{tx, env}.group(e.GroupID, agenda.NotifyGroupInvitation, e.UserID,
			map[string]any{"rank": e.Rank, "hierarchical": g.Hierarchical})
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupInvitationAccepted) error {
		g, err := tx.GroupInfo(e.GroupID)
		if err != nil {
			return err
		}
		inv, ok := g.Invited[e.UserID]
		if !ok {
			return fmt.Errorf("group %s: %s accepted no pending invitation", e.GroupID, e.UserID)
		}
		if err := tx.ActivateMember(e.GroupID, e.UserID, env.Time, env.OriginNode); err != nil {
			return err
		}
		if err := tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return notifier{tx, env}.group(e.GroupID, agenda.NotifyMemberAdded, answerTo(g, inv), map[string]any{"user_id": e.UserID, "rank": inv.Rank})
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.GroupInvitationDeclined) error {
		g, err := tx.GroupInfo(e.GroupID)
		if err != nil {
			return err
		}
		inv, ok := g.Invited[e.UserID]
		if !ok {
			return fmt.Errorf("group %s: %s declined no pending invitation", e.GroupID, e.UserID)
		}
		if err := (notifier{tx, env}).group(e.GroupID, agenda.NotifyGroupInvitationDeclined, answerTo(g, inv), map[string]any{"user_id": e.UserID}); err != nil {
			return err
		}
		if err := tx.RemoveMember(e.GroupID, e.UserID); err != nil {
			return err
		}
		return tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode)
	})
}

// answerTo is who hears the answer to an invitation: its inviter, if still
// a member, else the member its rank rests on now (who re-ranked it, or
// the heir of a creator who made it), if any. A review found a departed
// creator's invitation, which stands, accepted with no one told.
func answerTo(g readmodel.GroupInfo, inv readmodel.Invitee) string {
	if to := stillMember(g, inv.By); to != "" {
		return to
	}
	return stillMember(g, inv.RankedBy)
}

// stillMember returns userID if they are still an active member of g, else
// "" (nobody is notified): whoever left a group hears nothing more of it.
func stillMember(g readmodel.GroupInfo, userID string) string {
	if _, ok := g.Members[userID]; ok {
		return userID
	}
	return ""
}

// notificationHandlers record what users did with their notifications, and
// the version of each user's notification stream.
func notificationHandlers(d dispatch) {
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.NotificationRead) error {
		if err := tx.MarkNotificationRead(e.UserID, e.NotificationID, env.Time, env.OriginNode); err != nil {
			return err
		}
		return tx.SetNotificationStreamVersion(e.UserID, env.Version, env.OriginNode)
	})
	on(d, func(tx *readmodel.Tx, env *events.Envelope, e events.NotificationsAllRead) error {
		if err := tx.MarkNotificationsRead(e.UserID, e.UpToPosition, env.Time, env.OriginNode); err != nil {
			return err
		}
		return tx.SetNotificationStreamVersion(e.UserID, env.Version, env.OriginNode)
	})
}
