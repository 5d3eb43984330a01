package projections

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/agendahq/agenda/events"
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
