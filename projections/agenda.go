package projections

import (
	"fmt"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// AgendaProjection builds everything people plan with: appointments and
// their participants, each user's agenda entries and agenda stream version
// (which commands expect when they book time), groups and their members,
// and the notifications derived from all of these. They share one
// checkpoint so that a command or a group view never pairs a membership
// with entries from another moment (see readmodel.ProjectionAgenda).
type AgendaProjection struct{}

// Name implements Projection.
func (AgendaProjection) Name() string { return readmodel.ProjectionAgenda }

// EventTypes implements Projection.
func (AgendaProjection) EventTypes() []string {
	return []string{
		events.AppointmentCreated{}.EventType(),
		events.AppointmentUpdated{}.EventType(),
		events.AppointmentDeleted{}.EventType(),
		events.AppointmentParticipantAdded{}.EventType(),
		events.AppointmentParticipantRemoved{}.EventType(),
		events.AppointmentAccepted{}.EventType(),
		events.AppointmentDeclined{}.EventType(),
		events.AppointmentConfirmed{}.EventType(),
		events.AppointmentCancelled{}.EventType(),
		events.AgendaEntryAdded{}.EventType(),
		events.AgendaEntryRescheduled{}.EventType(),
		events.AgendaEntryRemoved{}.EventType(),
		events.AgendaEntryRoleChanged{}.EventType(),
		events.GroupCreated{}.EventType(),
		events.GroupUpdated{}.EventType(),
		events.GroupDeleted{}.EventType(),
		events.GroupMemberAdded{}.EventType(),
		events.GroupMemberRankChanged{}.EventType(),
		events.GroupMemberRemoved{}.EventType(),
		events.GroupCreatorChanged{}.EventType(),
		events.GroupMemberInvited{}.EventType(),
		events.GroupInvitationAccepted{}.EventType(),
		events.GroupInvitationDeclined{}.EventType(),
		events.NotificationRead{}.EventType(),
		events.NotificationsAllRead{}.EventType(),
	}
}

// Handle implements Projection. Every event also gets its per-user feed
// entries (see feed), decided in the same transaction.
func (AgendaProjection) Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	f, err := feedBefore(tx, env, ev)
	if err != nil {
		return err
	}
	if err := handleAgenda(tx, env, ev); err != nil {
		return err
	}
	return f.after(ev)
}

func handleAgenda(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	switch ev.(type) {
	case events.AgendaEntryAdded, events.AgendaEntryRescheduled, events.AgendaEntryRemoved, events.AgendaEntryRoleChanged:
		return handleAgendaEntry(tx, env, ev)
	case events.GroupCreated, events.GroupUpdated, events.GroupDeleted,
		events.GroupMemberAdded, events.GroupMemberRankChanged, events.GroupMemberRemoved, events.GroupCreatorChanged,
		events.GroupMemberInvited, events.GroupInvitationAccepted, events.GroupInvitationDeclined:
		return handleGroup(tx, env, ev)
	case events.NotificationRead, events.NotificationsAllRead:
		return handleNotificationRead(tx, env, ev)
	}
	return handleAppointment(tx, env, ev)
}

func handleAppointment(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	n := notifier{tx: tx, env: env}
	switch e := ev.(type) {
	case events.AppointmentCreated:
		err := tx.InsertAppointment(readmodel.AppointmentRecord{
			ID: e.AppointmentID, OwnerID: e.OwnerID, GroupID: e.GroupID,
			Title: e.Title, Description: e.Description, Location: e.Location,
			Start: e.Start, End: e.End, Privacy: e.Privacy, Status: e.Status,
			CreatedAt: env.Time, UpdatedAt: env.Time, Version: env.Version, OriginNode: env.OriginNode,
		})
		if err != nil {
			return err
		}
		return tx.SetParticipant(e.AppointmentID, e.OwnerID, agenda.RoleOwner, env.Version, env.OriginNode)
	case events.AppointmentUpdated:
		err := tx.UpdateAppointment(readmodel.AppointmentRecord{
			ID: e.AppointmentID, Title: e.Title, Description: e.Description, Location: e.Location,
			Start: e.Start, End: e.End, Privacy: e.Privacy,
			UpdatedAt: env.Time, Version: env.Version, OriginNode: env.OriginNode,
		})
		if err != nil {
			return err
		}
		return n.participants(e.AppointmentID, agenda.NotifyUpdated, nil)
	case events.AppointmentDeleted:
		return tx.DeleteAppointment(e.AppointmentID)
	case events.AppointmentParticipantAdded:
		if err := tx.SetParticipant(e.AppointmentID, e.UserID, e.Status, env.Version, env.OriginNode); err != nil {
			return err
		}
		if err := tx.TouchAppointment(e.AppointmentID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		typ := agenda.NotifyInvitation
		if e.Status == agenda.RoleAuto {
			typ = agenda.NotifyImposed
		}
		return n.appointment(e.AppointmentID, typ, func(a readmodel.AppointmentInfo) []string { return []string{e.UserID} }, nil)
	case events.AppointmentParticipantRemoved:
		if err := tx.RemoveParticipant(e.AppointmentID, e.UserID); err != nil {
			return err
		}
		return tx.TouchAppointment(e.AppointmentID, env.Time, env.Version, env.OriginNode)
	case events.AppointmentAccepted:
		return answer(tx, n, env, e.AppointmentID, e.UserID, agenda.RoleAccepted, agenda.NotifyAccepted)
	case events.AppointmentDeclined:
		return answer(tx, n, env, e.AppointmentID, e.UserID, agenda.RoleDeclined, agenda.NotifyDeclined)
	case events.AppointmentConfirmed:
		if err := tx.SetAppointmentStatus(e.AppointmentID, agenda.StatusConfirmed, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return n.participants(e.AppointmentID, agenda.NotifyConfirmed, nil)
	case events.AppointmentCancelled:
		if err := tx.SetAppointmentStatus(e.AppointmentID, agenda.StatusCancelled, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return n.participants(e.AppointmentID, agenda.NotifyCancelled, map[string]any{"reason": e.Reason})
	}
	return nil
}

// answer records a participant's acceptance or refusal and tells the
// organiser.
func answer(tx *readmodel.Tx, n notifier, env *events.Envelope, appointmentID, userID, status, typ string) error {
	if err := tx.SetParticipant(appointmentID, userID, status, env.Version, env.OriginNode); err != nil {
		return err
	}
	if err := tx.TouchAppointment(appointmentID, env.Time, env.Version, env.OriginNode); err != nil {
		return err
	}
	return n.appointment(appointmentID, typ, func(a readmodel.AppointmentInfo) []string { return []string{a.OwnerID} },
		map[string]any{"user_id": userID})
}

func handleAgendaEntry(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	var err error
	var user string
	switch e := ev.(type) {
	case events.AgendaEntryAdded:
		user = e.UserID
		err = tx.AddAgendaEntry(e.UserID, e.AppointmentID, e.Start, e.End, e.Role, env.OriginNode)
	case events.AgendaEntryRescheduled:
		user = e.UserID
		err = tx.RescheduleAgendaEntry(e.UserID, e.AppointmentID, e.Start, e.End, env.OriginNode)
	case events.AgendaEntryRemoved:
		user = e.UserID
		err = tx.RemoveAgendaEntry(e.UserID, e.AppointmentID)
	case events.AgendaEntryRoleChanged:
		user = e.UserID
		err = tx.ChangeAgendaEntryRole(e.UserID, e.AppointmentID, e.Role, env.OriginNode)
	}
	if err != nil {
		return err
	}
	return tx.SetAgendaVersion(user, env.Version, env.OriginNode)
}

func handleGroup(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	n := notifier{tx: tx, env: env}
	switch e := ev.(type) {
	case events.GroupCreated:
		return tx.InsertGroup(readmodel.GroupRecord{ID: e.GroupID, Name: e.Name, Description: e.Description,
			CreatorID: e.CreatorID, Hierarchical: e.Hierarchical, At: env.Time, Version: env.Version, OriginNode: env.OriginNode})
	case events.GroupUpdated:
		return tx.UpdateGroup(readmodel.GroupRecord{ID: e.GroupID, Name: e.Name, Description: e.Description,
			At: env.Time, Version: env.Version, OriginNode: env.OriginNode})
	case events.GroupDeleted:
		return tx.DeleteGroup(e.GroupID)
	case events.GroupMemberAdded:
		if err := tx.SetMember(e.GroupID, e.UserID, e.Rank, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		if err := tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return n.group(e.GroupID, agenda.NotifyMemberAdded, e.UserID, map[string]any{"user_id": e.UserID, "rank": e.Rank})
	case events.GroupMemberInvited:
		if err := tx.InviteMember(e.GroupID, e.UserID, e.Rank, e.InvitedBy, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		if err := tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		g, err := tx.GroupInfo(e.GroupID)
		if err != nil {
			return err
		}
		return n.group(e.GroupID, agenda.NotifyGroupInvitation, e.UserID,
			map[string]any{"rank": e.Rank, "hierarchical": g.Hierarchical})
	case events.GroupInvitationAccepted:
		g, err := tx.GroupInfo(e.GroupID)
		if err != nil {
			return err
		}
		inv, ok := g.Invited[e.UserID]
		if !ok {
			return fmt.Errorf("group %s: %s accepted no pending invitation", e.GroupID, e.UserID)
		}
		if err := tx.ActivateMember(e.GroupID, e.UserID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		if err := tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return n.group(e.GroupID, agenda.NotifyMemberAdded, stillMember(g, inv.By), map[string]any{"user_id": e.UserID, "rank": inv.Rank})
	case events.GroupInvitationDeclined:
		g, err := tx.GroupInfo(e.GroupID)
		if err != nil {
			return err
		}
		inv, ok := g.Invited[e.UserID]
		if !ok {
			return fmt.Errorf("group %s: %s declined no pending invitation", e.GroupID, e.UserID)
		}
		if err := n.group(e.GroupID, agenda.NotifyGroupInvitationDeclined, stillMember(g, inv.By), map[string]any{"user_id": e.UserID}); err != nil {
			return err
		}
		if err := tx.RemoveMember(e.GroupID, e.UserID); err != nil {
			return err
		}
		return tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode)
	case events.GroupMemberRankChanged:
		if err := tx.SetMember(e.GroupID, e.UserID, e.Rank, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		if err := tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return n.group(e.GroupID, agenda.NotifyRankChanged, e.UserID, map[string]any{"user_id": e.UserID, "rank": e.Rank})
	case events.GroupCreatorChanged:
		if err := tx.SetGroupCreator(e.GroupID, e.UserID, env.Time, env.Version, env.OriginNode); err != nil {
			return err
		}
		return n.group(e.GroupID, agenda.NotifyCreatorChanged, e.UserID, map[string]any{"user_id": e.UserID})
	case events.GroupMemberRemoved:
		// Notify before removing, while the group still lists its creator.
		to := e.UserID
		if e.Left {
			g, err := tx.GroupInfo(e.GroupID)
			if err != nil {
				return err
			}
			to = ""
			if _, ok := g.Members[g.CreatorID]; ok && g.CreatorID != e.UserID {
				to = g.CreatorID
			}
		}
		if to != "" {
			if err := n.group(e.GroupID, agenda.NotifyMemberRemoved, to,
				map[string]any{"user_id": e.UserID, "left": e.Left}); err != nil {
				return err
			}
		}
		if err := tx.RemoveMember(e.GroupID, e.UserID); err != nil {
			return err
		}
		return tx.TouchGroup(e.GroupID, env.Time, env.Version, env.OriginNode)
	}
	return nil
}

// stillMember returns userID if they are still an active member of g, else
// "" (nobody is notified): whoever left a group hears nothing more of it.
func stillMember(g readmodel.GroupInfo, userID string) string {
	if _, ok := g.Members[userID]; ok {
		return userID
	}
	return ""
}

func handleNotificationRead(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	var user string
	switch e := ev.(type) {
	case events.NotificationRead:
		user = e.UserID
		if err := tx.MarkNotificationRead(e.UserID, e.NotificationID, env.Time, env.OriginNode); err != nil {
			return err
		}
	case events.NotificationsAllRead:
		user = e.UserID
		if err := tx.MarkNotificationsRead(e.UserID, e.UpToPosition, env.Time, env.OriginNode); err != nil {
			return err
		}
	}
	return tx.SetNotificationStreamVersion(user, env.Version, env.OriginNode)
}
