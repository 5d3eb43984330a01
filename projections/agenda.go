package projections

import (
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// AgendaProjection builds appointments, each user's agenda entries, and the
// version of each agenda stream (which commands expect when they book time).
type AgendaProjection struct{}

// Name implements Projection.
func (AgendaProjection) Name() string { return readmodel.ProjectionAgenda }

// EventTypes implements Projection.
func (AgendaProjection) EventTypes() []string {
	return []string{
		events.AppointmentCreated{}.EventType(),
		events.AppointmentUpdated{}.EventType(),
		events.AppointmentDeleted{}.EventType(),
		events.AgendaEntryAdded{}.EventType(),
		events.AgendaEntryRescheduled{}.EventType(),
		events.AgendaEntryRemoved{}.EventType(),
	}
}

// Handle implements Projection.
func (AgendaProjection) Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	switch e := ev.(type) {
	case events.AppointmentCreated:
		return tx.InsertAppointment(readmodel.AppointmentRecord{
			ID: e.AppointmentID, OwnerID: e.OwnerID, GroupID: e.GroupID,
			Title: e.Title, Description: e.Description, Location: e.Location,
			Start: e.Start, End: e.End, Privacy: e.Privacy, Status: e.Status,
			CreatedAt: env.Time, UpdatedAt: env.Time, Version: env.Version, OriginNode: env.OriginNode,
		})
	case events.AppointmentUpdated:
		return tx.UpdateAppointment(readmodel.AppointmentRecord{
			ID: e.AppointmentID, Title: e.Title, Description: e.Description, Location: e.Location,
			Start: e.Start, End: e.End, Privacy: e.Privacy,
			UpdatedAt: env.Time, Version: env.Version, OriginNode: env.OriginNode,
		})
	case events.AppointmentDeleted:
		return tx.DeleteAppointment(e.AppointmentID)
	}

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
	default:
		return nil
	}
	if err != nil {
		return err
	}
	return tx.SetAgendaVersion(user, env.Version, env.OriginNode)
}
