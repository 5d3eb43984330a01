package projections

import (
	"fmt"
	"slices"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// Projection applies events to its part of the read model. Handle is called
// for every event in log order, inside the transaction that will also move
// the projection's checkpoint past it. It must be deterministic and must not
// call the clock.
type Projection interface {
	Name() string
	// EventTypes lists the event types the projection handles; the others
	// are filtered out before they are read. It is derived from the
	// projection's dispatch table, so a type is listed if and only if it
	// has a handler.
	EventTypes() []string
	// Handle applies one event. An event of a type the projection has no
	// handler for is an error, never silently skipped: the projection
	// would otherwise fall behind the log without saying so.
	Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error
}

// All returns every projection of the read model.
func All() []Projection {
	return []Projection{UsersProjection{}, PlanningProjection{}}
}

// handler applies one event of a known type.
type handler func(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error

// dispatch maps each event type a projection handles to its handler, in the
// style of consul's FSM registerCommand: the table is the projection's
// subscription list, and adding an event type means adding one entry.
type dispatch map[string]handler

// on registers fn for the events of type E in d. Registering a type twice is
// a programming error, caught when the table is built.
func on[E events.Event](d dispatch, fn func(tx *readmodel.Tx, env *events.Envelope, e E) error) {
	var zero E
	typ := zero.EventType()
	if _, dup := d[typ]; dup {
		panic("projections: two handlers for " + typ)
	}
	d[typ] = func(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
		e, ok := ev.(E)
		if !ok {
			return fmt.Errorf("event %d of type %s decoded as %T", env.Position, typ, ev)
		}
		return fn(tx, env, e)
	}
}

// eventTypes lists the table's event types, sorted so that the list (and
// the queries built from it) is the same on every run.
func (d dispatch) eventTypes() []string {
	out := make([]string, 0, len(d))
	for typ := range d {
		out = append(out, typ)
	}
	slices.Sort(out)
	return out
}

// handle runs the handler of ev's type; a type without one is an error.
func (d dispatch) handle(projection string, tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	h, ok := d[ev.EventType()]
	if !ok {
		return fmt.Errorf("projection %s has no handler for event type %q", projection, ev.EventType())
	}
	return h(tx, env, ev)
}
