package projections

import (
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// AgendaProjection builds each user's agenda entries and records the
// version of each agenda stream, which commands expect when they book time.
type AgendaProjection struct{}

// Name implements Projection.
func (AgendaProjection) Name() string { return readmodel.ProjectionAgenda }

// Handle implements Projection.
func (AgendaProjection) Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
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
