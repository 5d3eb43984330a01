package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// TestE2EGroupsConcurrentBookingsNeverDoubleBook races group appointments
// (imposed and invited, in a hierarchical and a flat group), acceptances,
// declines and personal bookings of the same people from many goroutines.
// Afterwards no one's blocking time overlaps, and the read model equals the
// one a rebuild from the event store derives.
func TestE2EGroupsConcurrentBookingsNeverDoubleBook(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	node := startNode(t, cfg)

	const people = 8
	users := make([]*client, people)
	ids := make([]string, people)
	for i := range users {
		users[i] = registerUser(t, node, fmt.Sprintf("racer%d", i))
		ids[i] = users[i].me().ID
	}
	// A hierarchy: racer0 > racer1 = racer2 > everyone else; and a flat group
	// of everyone.
	var dept, club struct {
		ID string `json:"id"`
	}
	users[0].do("POST", "/api/groups", map[string]any{"name": "Dept", "hierarchical": true}).expect(t, http.StatusCreated).JSON(t, &dept)
	users[0].do("POST", "/api/groups", map[string]any{"name": "Club", "hierarchical": false}).expect(t, http.StatusCreated).JSON(t, &club)
	for i := 1; i < people; i++ {
		rank := 10
		if i <= 2 {
			rank = 500
		}
		users[0].do("POST", "/api/groups/"+dept.ID+"/members", map[string]any{"user_id": ids[i], "rank": rank}).expect(t, http.StatusCreated)
		users[0].do("POST", "/api/groups/"+club.ID+"/members", map[string]any{"user_id": ids[i]}).expect(t, http.StatusCreated)
		users[i].do("POST", "/api/groups/"+dept.ID+"/accept", nil).expect(t, http.StatusOK)
		users[i].do("POST", "/api/groups/"+club.ID+"/accept", nil).expect(t, http.StatusOK)
	}

	// Slots on one morning, every 15 minutes, 30 to 90 minutes long: many
	// overlap each other.
	base := time.Date(2027, 5, 3, 8, 0, 0, 0, time.UTC)
	slot := func(r *rand.Rand) map[string]any {
		start := base.Add(time.Duration(r.IntN(16)) * 15 * time.Minute)
		return appointmentBody("race", start, time.Duration(30+30*r.IntN(3))*time.Minute)
	}

	const workers, perWorker = 12, 25
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range perWorker {
				u := users[r.IntN(people)]
				var resp *response
				var err error
				switch k := r.IntN(10); {
				case k < 3: // a group appointment in the hierarchy (imposes on those below)
					resp, err = u.send("POST", "/api/groups/"+dept.ID+"/appointments", slot(r))
				case k < 5: // a flat-group appointment (invites everyone)
					resp, err = u.send("POST", "/api/groups/"+club.ID+"/appointments", slot(r))
				case k < 7: // a personal appointment
					resp, err = u.send("POST", "/api/appointments", slot(r))
				default: // answer one of my invitations
					var inv []struct {
						ID string `json:"id"`
					}
					lr, lerr := u.send("GET", "/api/invitations", nil)
					if lerr != nil || lr.Status != http.StatusOK {
						err = fmt.Errorf("list invitations: %v (%v)", lerr, lr)
						break
					}
					lr.JSON(t, &inv)
					if len(inv) == 0 {
						continue
					}
					verb := "accept"
					if r.IntN(4) == 0 {
						verb = "decline"
					}
					resp, err = u.send("POST", "/api/appointments/"+inv[r.IntN(len(inv))].ID+"/"+verb, nil)
				}
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				key := fmt.Sprint(resp.Status)
				if c := resp.ErrorCode(); c != "" {
					key += " " + c
				}
				mu.Lock()
				outcomes[key]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("outcomes: %v", outcomes)
	for k := range outcomes {
		// 409 conflict: an answer to an invitation cancelled meanwhile.
		if !slices.Contains([]string{"200", "201", "409 schedule_conflict", "409 conflict"}, k) {
			t.Fatalf("unexpected outcome %q (all: %v)", k, outcomes)
		}
	}
	if outcomes["201"] == 0 || outcomes["409 schedule_conflict"] == 0 {
		t.Fatalf("outcomes %v: the race should both book and refuse", outcomes)
	}

	// No one is double-booked: blocking entries never overlap.
	for i, u := range users {
		entries := u.withT(t).agendaOf(base.Add(-time.Hour), base.Add(8*time.Hour))
		var blocking []apiEntry
		for _, e := range entries {
			if e.MyStatus == "owner" || e.MyStatus == "auto" || e.MyStatus == "accepted" {
				blocking = append(blocking, e)
			}
		}
		for a := range blocking {
			for b := a + 1; b < len(blocking); b++ {
				x, y := blocking[a], blocking[b]
				if x.Start.Before(y.End) && y.Start.Before(x.End) {
					t.Errorf("racer%d is double-booked: %s %s–%s and %s %s–%s", i,
						x.AppointmentID, x.Start, x.End, y.AppointmentID, y.Start, y.End)
				}
			}
		}
	}

	// The read model equals a replay of the event store.
	if err := node.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	live := dumpReadModel(t, filepath.Join(dir, "readmodel.db"))
	for _, f := range []string{"readmodel.db", "readmodel.db-wal", "readmodel.db-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	rebuilt := startNode(t, cfg)
	if err := rebuilt.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	replayed := dumpReadModel(t, filepath.Join(dir, "readmodel.db"))
	for _, d := range readModelDiffs(live, replayed, "live", "rebuilt") {
		t.Error(d)
	}
}
