package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// TestFeedToKeepsTheFirstEntryPerUserInOrder pins feed.to on both sides of
// scanLimit: every user once, in the order first decided, with the data
// first decided for them.
func TestFeedToKeepsTheFirstEntryPerUserInOrder(t *testing.T) {
	for _, n := range []int{1, scanLimit - 1, scanLimit, scanLimit + 1, 5 * scanLimit} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := &feed{env: &events.Envelope{Position: 7, Type: "x"}}
			first, later := json.RawMessage(`1`), json.RawMessage(`2`)
			for i := range n {
				f.to(fmt.Sprintf("u%d", i), first)
				f.to(fmt.Sprintf("u%d", i/2), later) // already there
			}
			f.to("", first)
			for i := range n {
				f.to(fmt.Sprintf("u%d", i), later)
			}
			f.to(fmt.Sprintf("u%d", n), later)
			if len(f.records) != n+1 {
				t.Fatalf("%d records, want %d", len(f.records), n+1)
			}
			for i, r := range f.records {
				want := first
				if i == n {
					want = later
				}
				if r.UserID != fmt.Sprintf("u%d", i) || string(r.Data) != string(want) || r.Position != 7 {
					t.Fatalf("record %d = %s %s %d, want u%d %s 7", i, r.UserID, r.Data, r.Position, i, want)
				}
			}
		})
	}
}

// strayEvent is an event type the feed has no rule for.
type strayEvent struct{}

func (strayEvent) EventType() string { return "test.stray" }

// TestFeedHasARuleForEveryPlanningType: every event type the planning
// projection handles is decided by the feed, before or after it (STYLE: an
// unknown type is an error, not a silent return), and a type it does not
// know is refused rather than reaching nobody's feed without a word (a
// newcomer's walk-through found the feed's switches without a default).
func TestFeedHasARuleForEveryPlanningType(t *testing.T) {
	rm, err := readmodel.Open(context.Background(), filepath.Join(t.TempDir(), "rm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	done := errors.New("rolled back")
	err = rm.Apply(context.Background(), readmodel.ProjectionPlanning, 0, 1, func(tx *readmodel.Tx) error {
		feedOf := func(env *events.Envelope, ev events.Event) error {
			f, err := feedBefore(tx, env, ev)
			if err != nil {
				return err
			}
			return f.after(ev)
		}
		versions := events.Types()
		for _, typ := range planningHandlers.eventTypes() {
			env := &events.Envelope{Type: typ, SchemaVersion: slices.Max(versions[typ]), Position: 1, Version: 1, Stream: "s",
				Data: json.RawMessage(`{}`)}
			ev, err := env.Decode()
			if err != nil {
				t.Fatalf("%s: a zero event: %v", typ, err)
			}
			// Zero IDs find nothing: only the missing rule matters here.
			if err := feedOf(env, ev); errors.Is(err, errNoFeedRule) {
				t.Errorf("%s: %v", typ, err)
			}
		}
		if err := feedOf(&events.Envelope{Type: "test.stray", Position: 1}, strayEvent{}); !errors.Is(err, errNoFeedRule) {
			t.Errorf("an event type the feed does not know: %v, want errNoFeedRule", err)
		}
		return done
	})
	if !errors.Is(err, done) {
		t.Fatal(err)
	}
}
