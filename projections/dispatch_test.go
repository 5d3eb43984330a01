package projections_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// Each projection dispatches by table: its EventTypes are sorted and
// without duplicates (the same list on every run), no type belongs to two
// projections but those listed in shared, and an event of a type a
// projection has no handler for is an error rather than silently skipped.
func TestProjectionsDispatchByTable(t *testing.T) {
	// A profile change is stored by users and told by planning, which
	// writes the feed.
	shared := map[string]bool{"user.profile_changed": true}
	owner := map[string]string{}
	for _, p := range projections.All() {
		types := p.EventTypes()
		if !slices.IsSorted(types) || len(slices.Compact(slices.Clone(types))) != len(types) {
			t.Errorf("%s.EventTypes() = %v, want sorted and unique", p.Name(), types)
		}
		for _, typ := range types {
			if o, dup := owner[typ]; dup && !shared[typ] {
				t.Errorf("%s is handled by both %s and %s", typ, o, p.Name())
			}
			owner[typ] = p.Name()
		}
	}

	rm, err := readmodel.Open(context.Background(), filepath.Join(t.TempDir(), "readmodel.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	foreign := map[string]events.Event{
		readmodel.ProjectionUsers:    events.GroupDeleted{GroupID: "g1"},
		readmodel.ProjectionPlanning: events.UserPasswordChanged{UserID: "u1", PasswordHash: "x"},
	}
	for _, p := range projections.All() {
		ev := foreign[p.Name()]
		if ev == nil {
			t.Fatalf("no foreign event for %s", p.Name())
		}
		env := events.Envelope{Position: 1, Type: ev.EventType(), Stream: "s", Version: 1}
		err := rm.Apply(context.Background(), p.Name(), 0, 1, func(tx *readmodel.Tx) error {
			return p.Handle(tx, &env, ev)
		})
		if err == nil || !strings.Contains(err.Error(), "no handler for event type") {
			t.Errorf("%s.Handle(%s) = %v, want a no-handler error", p.Name(), ev.EventType(), err)
		}
		if got := rm.Checkpoint(p.Name()); got != 0 {
			t.Errorf("%s moved to %d past an event it cannot handle", p.Name(), got)
		}
	}
}
