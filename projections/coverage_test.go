package projections_test

import (
	"testing"

	"github.com/agendahq/agenda/projections"
)

// notProjected lists event types no read model needs, on purpose.
var notProjected = map[string]string{
	"username.claimed": "the reservation stream only guards uniqueness; users come from user.registered",
}

// TestEveryEventTypeIsProjected fails when an event type is added without a
// projection handling it (or a reason in notProjected): projections filter by
// type, so a forgotten type would be silently ignored.
func TestEveryEventTypeIsProjected(t *testing.T) {
	handled := map[string]string{}
	for _, p := range projections.All() {
		for _, typ := range p.EventTypes() {
			handled[typ] = p.Name()
		}
	}
	for typ := range allTypes() {
		_, h := handled[typ]
		_, ignored := notProjected[typ]
		if !h && !ignored {
			t.Errorf("event type %q is handled by no projection", typ)
		}
		if h && ignored {
			t.Errorf("event type %q is both projected and listed as not projected", typ)
		}
	}
	for typ := range handled {
		if _, ok := allTypes()[typ]; !ok {
			t.Errorf("a projection handles %q, which is not a registered event type", typ)
		}
	}
}

func allTypes() map[string]bool {
	out := map[string]bool{}
	for _, t := range allEventTypes() {
		out[t] = true
	}
	return out
}
