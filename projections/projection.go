package projections

import (
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// Projection applies events to its part of the read model. Handle is called
// for every event in log order, inside the transaction that will also move
// the projection's checkpoint past it; it ignores events it does not care
// about. It must be deterministic and must not call the clock.
type Projection interface {
	Name() string
	// EventTypes lists the event types the projection handles; the others
	// are filtered out before they are read.
	EventTypes() []string
	Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error
}

// All returns every projection of the read model.
func All() []Projection {
	return []Projection{UsersProjection{}, AgendaProjection{}}
}
