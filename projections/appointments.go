package projections

import (
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// AppointmentsProjection builds the appointments table.
type AppointmentsProjection struct{}

// Name implements Projection.
func (AppointmentsProjection) Name() string { return readmodel.ProjectionAppointments }

// Handle implements Projection.
func (AppointmentsProjection) Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
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
	return nil
}
