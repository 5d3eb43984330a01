package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/projections"
)

// A user invited more often than agenda.MaxNotificationsKept keeps only
// the newest notifications, and a read model rebuilt from the log (online
// or offline) prunes the same ones as the one that projected them live:
// the prune is a function of the events, not of when they were projected.
func TestNotificationsPrunedAlikeLiveAndRebuilt(t *testing.T) {
	ctx := context.Background()
	store := mustOpenStore(t)
	path := filepath.Join(t.TempDir(), "readmodel.db")
	rm := mustOpenReadModel(t, path)
	p := startProjector(t, store, rm)
	l := newEventLog(t, store)
	l.commit(l.batch("node-a", registerUser("u0", "organiser", "Organiser")...),
		l.batch("node-a", registerUser("u1", "invitee", "Invitee")...))
	invitations := agenda.MaxNotificationsKept + 300
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var head, before int64
	for i := range invitations {
		start := day.Add(time.Duration(i) * time.Hour)
		before, head = head, l.commit(l.batch([]string{"node-a", "node-b"}[i%2],
			createAppointment(fmt.Sprintf("a%05d", i), "u0", start, start.Add(30*time.Minute), map[string]string{"u1": agenda.RolePending})...))
	}
	waitProjected(t, rm, head)
	ns, err := rm.Notifications(ctx, "u1", false, 10*invitations)
	if err != nil {
		t.Fatal(err)
	}
	// Pruned down to the bound at least once, and at most the few since
	// the last prune above it (one insert in sixteen prunes).
	if len(ns) < agenda.MaxNotificationsKept || len(ns) > agenda.MaxNotificationsKept+100 {
		t.Fatalf("the invitee keeps %d notifications of %d, want %d and the few since the last prune", len(ns), invitations, agenda.MaxNotificationsKept)
	}
	if ns[0].Position <= before || ns[0].Position > head {
		t.Errorf("the newest kept is at position %d, want the last invitation's (%d, %d]", ns[0].Position, before, head)
	}
	p.stop(t)
	storeCheckpoints(t, rm)
	want := dump(t, path)
	for _, proj := range projections.All() {
		if _, err := projections.RebuildInto(ctx, store, rm, proj, func(projections.RebuildProgress) {}); err != nil {
			t.Fatalf("RebuildInto(%s): %v", proj.Name(), err)
		}
	}
	diffDumps(t, dump(t, path), want)
	rm.Close()
	if _, err := projections.RebuildOffline(ctx, store, path, projections.All(), func(projections.RebuildProgress) {}); err != nil {
		t.Fatalf("RebuildOffline: %v", err)
	}
	diffDumps(t, dump(t, path), want)
}
