package readmodel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// notification is a notification of user derived from the event at
// position.
func notification(id, user string, position int64) readmodel.NotificationRecord {
	return readmodel.NotificationRecord{ID: id, UserID: user, Type: agenda.NotifyInvitation,
		Payload: []byte(`{"appointment_id":"a-` + id + `"}`), At: at.Add(time.Duration(position) * time.Second),
		Position: position, Version: 1, OriginNode: "node-a"}
}

func insertNotifications(tb testing.TB, db *readmodel.DB, ns ...readmodel.NotificationRecord) {
	tb.Helper()
	mustApply(tb, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		for _, n := range ns {
			if err := tx.InsertNotification(n); err != nil {
				return err
			}
		}
		return nil
	})
}

func mustNotifications(t *testing.T, db *readmodel.DB, user string, unread bool, limit int) []agenda.Notification {
	t.Helper()
	ns, err := db.Notifications(context.Background(), user, unread, limit)
	if err != nil {
		t.Fatalf("Notifications(%s, unread=%v, %d): %v", user, unread, limit, err)
	}
	if ns == nil {
		t.Fatalf("Notifications(%s) = nil, want a list", user)
	}
	return ns
}

func notificationIDs(ns []agenda.Notification) []string {
	return ids(ns, func(n agenda.Notification) string { return n.ID })
}

func TestNotifications(t *testing.T) {
	db, _ := mustOpenDB(t)
	insertNotifications(t, db, notification("n3", "bob", 3), notification("n9", "bob", 9), notification("n5", "bob", 5),
		notification("other", "ana", 7))

	t.Run("newest first, only the user's", func(t *testing.T) {
		ns := mustNotifications(t, db, "bob", false, 100)
		if got, want := notificationIDs(ns), []string{"n9", "n5", "n3"}; !equalStrings(got, want) {
			t.Fatalf("notifications = %v, want %v", got, want)
		}
		n := ns[0]
		if n.Type != agenda.NotifyInvitation || string(n.Payload) != `{"appointment_id":"a-n9"}` || n.Position != 9 ||
			!n.CreatedAt.Equal(at.Add(9*time.Second)) || n.ReadAt != nil || n.Version != 1 || n.OriginNode != "node-a" {
			t.Errorf("n9 = %+v (payload %s), want the stored fields, unread", n, n.Payload)
		}
	})
	t.Run("limit keeps the newest", func(t *testing.T) {
		if got, want := notificationIDs(mustNotifications(t, db, "bob", false, 2)), []string{"n9", "n5"}; !equalStrings(got, want) {
			t.Errorf("notifications = %v, want %v", got, want)
		}
	})
	t.Run("nobody's", func(t *testing.T) {
		if ns := mustNotifications(t, db, "nobody", false, 10); len(ns) != 0 {
			t.Errorf("notifications of nobody = %v", ns)
		}
	})

	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.MarkNotificationRead("bob", "n5", at.Add(time.Hour), "node-r")
	})
	t.Run("unread only", func(t *testing.T) {
		if got, want := notificationIDs(mustNotifications(t, db, "bob", true, 100)), []string{"n9", "n3"}; !equalStrings(got, want) {
			t.Errorf("unread = %v, want %v", got, want)
		}
		if got, want := notificationIDs(mustNotifications(t, db, "bob", true, 1)), []string{"n9"}; !equalStrings(got, want) {
			t.Errorf("unread, limit 1 = %v, want %v", got, want)
		}
		all := mustNotifications(t, db, "bob", false, 100)
		if got, want := notificationIDs(all), []string{"n9", "n5", "n3"}; !equalStrings(got, want) {
			t.Errorf("all = %v, want %v (read ones stay listed)", got, want)
		}
		n5 := all[1]
		if n5.ReadAt == nil || !n5.ReadAt.Equal(at.Add(time.Hour)) || n5.Version != 2 || n5.OriginNode != "node-r" {
			t.Errorf("n5 read_at/version/origin = %v/%d/%s, want %s/2/node-r", n5.ReadAt, n5.Version, n5.OriginNode, at.Add(time.Hour))
		}
	})
}

// TestNotificationsNameTheirPeople: a notification names who acted and
// whom it is about as they are called when it is read, and names nobody its
// payload does not name or the read model does not know.
func TestNotificationsNameTheirPeople(t *testing.T) {
	db, _ := mustOpenDB(t)
	insertUsers(t, db, user("u-ana", "ana", "Ana Ruiz"), user("u-carl", "carl", ""))
	note := func(id, payload string, position int64) readmodel.NotificationRecord {
		n := notification(id, "bob", position)
		n.Type, n.Payload = agenda.NotifyAccepted, []byte(payload)
		return n
	}
	notes := []readmodel.NotificationRecord{
		note("both", `{"appointment_id":"a","by":"u-carl","user_id":"u-ana"}`, 1),
		note("actor", `{"group_id":"g","by":"u-ana"}`, 2),
		note("unknown", `{"group_id":"g","by":"u-gone","user_id":"u-gone"}`, 3),
		note("none", `{"group_id":"g"}`, 4),
	}
	// Each with its event's feed entry, as the projection writes them: the
	// live stream hands notifications out from the feed.
	for _, n := range notes {
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			if err := tx.InsertNotification(n); err != nil {
				return err
			}
			return tx.WriteFeed([]readmodel.FeedRecord{{UserID: "bob", Position: n.Position, EventType: "appointment.accepted",
				Stream: "appointment-a", Version: n.Position, At: at, Data: []byte(`{}`)}})
		})
	}
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		return tx.UpdateUserProfile("u-ana", "Ana R.", "ana@example.com", at, 2, "node-a")
	})

	feed, err := db.Feed(context.Background(), "bob", 0, 10, 10, agenda.MaxFeedPageBytes)
	if err != nil {
		t.Fatal(err)
	}
	fanned, err := db.FeedRange(context.Background(), 0, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, source := range []string{"all", "unread", "feed", "feed range"} {
		got := map[string]agenda.Notification{}
		var list []agenda.Notification
		switch source {
		case "all", "unread":
			list = mustNotifications(t, db, "bob", source == "unread", 10)
		case "feed":
			list = feedNotifications(t, feed)
		default:
			list = feedNotifications(t, fanned)
		}
		if len(list) != len(notes) {
			t.Fatalf("%s: %d notifications, want %d", source, len(list), len(notes))
		}
		for _, n := range list {
			got[n.ID] = n
		}
		ana := &agenda.UserSummary{ID: "u-ana", Username: "ana", DisplayName: "Ana R."}
		carl := &agenda.UserSummary{ID: "u-carl", Username: "carl", DisplayName: ""}
		for id, want := range map[string][2]*agenda.UserSummary{
			"both": {carl, ana}, "actor": {ana, nil}, "unknown": {nil, nil}, "none": {nil, nil},
		} {
			n := got[id]
			if !samePerson(n.Actor, want[0]) || !samePerson(n.Subject, want[1]) {
				t.Errorf("%s: %s actor/subject = %+v/%+v, want %+v/%+v", source, id, n.Actor, n.Subject, want[0], want[1])
			}
		}
	}
}

// feedNotifications decodes the notifications of feed entries as a client
// of the live stream does.
func feedNotifications(t *testing.T, entries []agenda.FeedEntry) []agenda.Notification {
	t.Helper()
	var out []agenda.Notification
	for _, e := range entries {
		var n agenda.Notification
		if err := json.Unmarshal(e.Notification, &n); err != nil {
			t.Fatalf("notification of feed entry %d: %v (%s)", e.Position, err, e.Notification)
		}
		if n.ID == "" || n.Type != agenda.NotifyAccepted || len(n.Payload) == 0 {
			t.Errorf("notification of feed entry %d lost its fields: %s", e.Position, e.Notification)
		}
		out = append(out, n)
	}
	return out
}

func samePerson(a, b *agenda.UserSummary) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func TestInsertNotificationIsIdempotent(t *testing.T) {
	db, _ := mustOpenDB(t)
	first := notification("n1", "bob", 4)
	insertNotifications(t, db, first)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.MarkNotificationRead("bob", "n1", at.Add(time.Hour), "node-r")
	})
	// The same ID again (a replayed event), even with other contents,
	// changes nothing: in particular it does not make a read one unread.
	again := first
	again.Type, again.Payload, again.Position = agenda.NotifyCancelled, []byte(`{}`), 40
	insertNotifications(t, db, again, again)
	ns := mustNotifications(t, db, "bob", false, 10)
	if len(ns) != 1 {
		t.Fatalf("notifications = %+v, want one", ns)
	}
	n := ns[0]
	if n.Type != agenda.NotifyInvitation || n.Position != 4 || string(n.Payload) != string(first.Payload) || n.ReadAt == nil || n.Version != 2 {
		t.Errorf("n1 = %+v (payload %s), want the first insert, still read, version 2", n, n.Payload)
	}
}

func TestNotificationState(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	insertNotifications(t, db, notification("n1", "bob", 1), notification("n2", "bob", 2), notification("n3", "bob", 3),
		notification("a1", "ana", 4))
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		if err := tx.MarkNotificationRead("bob", "n2", at, "node-r"); err != nil {
			return err
		}
		return tx.SetNotificationStreamVersion("bob", 6, "node-r")
	})
	tests := []struct {
		name, user, id string
		want           agenda.NotificationState
	}{
		{name: "unread one", user: "bob", id: "n1", want: agenda.NotificationState{StreamVersion: 6, Found: true, Version: 1, Unread: 2, Latest: 3}},
		{name: "read one", user: "bob", id: "n2", want: agenda.NotificationState{StreamVersion: 6, Found: true, Read: true, Version: 2, Unread: 2, Latest: 3}},
		{name: "no id: only counts", user: "bob", id: "", want: agenda.NotificationState{StreamVersion: 6, Unread: 2, Latest: 3}},
		{name: "someone else's", user: "bob", id: "a1", want: agenda.NotificationState{StreamVersion: 6, Unread: 2, Latest: 3}},
		{name: "unknown", user: "bob", id: "zz", want: agenda.NotificationState{StreamVersion: 6, Unread: 2, Latest: 3}},
		{name: "user without a stream", user: "ana", id: "a1", want: agenda.NotificationState{Found: true, Version: 1, Unread: 1, Latest: 4}},
		{name: "user with nothing", user: "nobody", id: "n1", want: agenda.NotificationState{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.NotificationState(ctx, tc.user, tc.id)
			if err != nil {
				t.Fatalf("NotificationState(%s, %s): %v", tc.user, tc.id, err)
			}
			if got != tc.want {
				t.Errorf("NotificationState(%s, %s) = %+v, want %+v", tc.user, tc.id, got, tc.want)
			}
		})
	}
	t.Run("the stream version moves", func(t *testing.T) {
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			return tx.SetNotificationStreamVersion("bob", 7, "node-s")
		})
		if s, _ := db.NotificationState(ctx, "bob", ""); s.StreamVersion != 7 {
			t.Errorf("stream version = %d, want 7", s.StreamVersion)
		}
	})
}

func TestMarkNotificationRead(t *testing.T) {
	db, _ := mustOpenDB(t)
	insertNotifications(t, db, notification("n1", "bob", 1), notification("a1", "ana", 2))
	mark := func(user, id string, when time.Time) {
		t.Helper()
		mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
			return tx.MarkNotificationRead(user, id, when, "node-r")
		})
	}
	mark("bob", "n1", at.Add(time.Hour))
	mark("bob", "n1", at.Add(2*time.Hour)) // again: the first read time stays
	mark("bob", "a1", at.Add(time.Hour))   // someone else's: nothing happens
	mark("bob", "zz", at.Add(time.Hour))   // unknown: nothing happens, no error

	n := mustNotifications(t, db, "bob", false, 10)[0]
	if n.ReadAt == nil || !n.ReadAt.Equal(at.Add(time.Hour)) || n.Version != 2 {
		t.Errorf("n1 read_at/version = %v/%d, want %s/2 (marked once)", n.ReadAt, n.Version, at.Add(time.Hour))
	}
	a := mustNotifications(t, db, "ana", false, 10)[0]
	if a.ReadAt != nil || a.Version != 1 {
		t.Errorf("ana's a1 read_at/version = %v/%d, want unread/1", a.ReadAt, a.Version)
	}
}

func TestMarkNotificationsReadUpToPosition(t *testing.T) {
	db, _ := mustOpenDB(t)
	insertNotifications(t, db, notification("n2", "bob", 2), notification("n4", "bob", 4), notification("n5", "bob", 5),
		notification("n8", "bob", 8), notification("a3", "ana", 3))
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.MarkNotificationRead("bob", "n2", at, "node-r")
	})
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.MarkNotificationsRead("bob", 5, at.Add(time.Hour), "node-s")
	})
	ns := mustNotifications(t, db, "bob", false, 10)
	want := map[string]struct {
		readAt  *time.Time
		version int64
	}{
		"n8": {nil, 1},                        // after the position: stays unread
		"n5": {ptrTime(at.Add(time.Hour)), 2}, // at the position
		"n4": {ptrTime(at.Add(time.Hour)), 2}, // before it
		"n2": {ptrTime(at), 2},                // read already: keeps its first read time
	}
	if got := notificationIDs(ns); !equalStrings(got, []string{"n8", "n5", "n4", "n2"}) {
		t.Fatalf("notifications = %v", got)
	}
	for _, n := range ns {
		w := want[n.ID]
		if (w.readAt == nil) != (n.ReadAt == nil) || (w.readAt != nil && !w.readAt.Equal(*n.ReadAt)) || n.Version != w.version {
			t.Errorf("%s read_at/version = %v/%d, want %v/%d", n.ID, n.ReadAt, n.Version, w.readAt, w.version)
		}
	}
	if unread := mustNotifications(t, db, "bob", true, 10); !equalStrings(notificationIDs(unread), []string{"n8"}) {
		t.Errorf("unread = %v, want [n8]", notificationIDs(unread))
	}
	if a := mustNotifications(t, db, "ana", true, 10); len(a) != 1 {
		t.Errorf("ana's unread = %v, want a3 untouched", notificationIDs(a))
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// BenchmarkUnreadNotifications measures the unread list and the state a
// mark-read command reads, for a user with 5 unread notifications and
// 100,000 read ones. Neither should grow with the read ones.
func BenchmarkUnreadNotifications(b *testing.B) {
	const read, unread = 100_000, 5
	ctx := context.Background()
	db, _ := mustOpenDB(b)
	mustApply(b, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		for i := range read + unread {
			if err := tx.InsertNotification(notification(fmt.Sprintf("n%06d", i), "me", int64(i+1))); err != nil {
				return err
			}
		}
		return tx.MarkNotificationsRead("me", read, at, "node-a")
	})
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			if ns, err := db.Notifications(ctx, "me", true, 50); err != nil || len(ns) != unread {
				b.Fatalf("Notifications = %d, %v; want %d unread", len(ns), err, unread)
			}
		}
	})
	b.Run("state", func(b *testing.B) {
		for b.Loop() {
			if s, err := db.NotificationState(ctx, "me", "n000001"); err != nil || s.Unread != unread {
				b.Fatalf("NotificationState = %+v, %v; want %d unread", s, err, unread)
			}
		}
	})
}

// A user keeps their newest agenda.MaxNotificationsKept notifications:
// an insert whose ID ends in 0 prunes the older ones, the user's only,
// read or not; until then a few more may wait (fewer than sixteen on
// average). Marking a pruned one read changes nothing.
func TestNotificationsArePrunedByCount(t *testing.T) {
	db, _ := mustOpenDB(t)
	const over = 100
	total := agenda.MaxNotificationsKept + over
	var ns []readmodel.NotificationRecord
	for i := 1; i <= total; i++ {
		ns = append(ns, notification(fmt.Sprintf("b%05d-x", i), "bob", int64(i)))
	}
	for i := 1; i <= 5; i++ {
		ns = append(ns, notification(fmt.Sprintf("a%d-0", i), "ana", int64(total+i)))
	}
	insertNotifications(t, db, ns...)
	if got := len(mustNotifications(t, db, "bob", false, 10*total)); got != total {
		t.Fatalf("bob has %d notifications before any prune, want %d (no ID of his ends in 0)", got, total)
	}
	newest := fmt.Sprintf("b%05d-x", total)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.MarkNotificationRead("bob", newest, at.Add(time.Hour), "node-r")
	})

	insertNotifications(t, db, notification("b-prune-0", "bob", int64(total+10)))
	got := mustNotifications(t, db, "bob", false, 10*total)
	if len(got) != agenda.MaxNotificationsKept {
		t.Fatalf("bob has %d notifications after a prune, want %d", len(got), agenda.MaxNotificationsKept)
	}
	if got[0].ID != "b-prune-0" || got[1].ID != newest || got[1].ReadAt == nil {
		t.Errorf("newest = %s, %s (read at %v), want b-prune-0 and %s, read", got[0].ID, got[1].ID, got[1].ReadAt, newest)
	}
	// The oldest kept is the 999th newest of the first batch.
	if oldest, want := got[len(got)-1].Position, int64(total-agenda.MaxNotificationsKept+2); oldest != want {
		t.Errorf("oldest kept at position %d, want %d", oldest, want)
	}
	st, err := db.NotificationState(context.Background(), "bob", "b00001-x")
	if err != nil {
		t.Fatal(err)
	}
	if st.Found || st.Unread != agenda.MaxNotificationsKept-1 {
		t.Errorf("state after the prune: found %v, %d unread; want a pruned one not found, %d unread", st.Found, st.Unread, agenda.MaxNotificationsKept-1)
	}
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.MarkNotificationRead("bob", "b00001-x", at.Add(2*time.Hour), "node-r")
	})
	if n := len(mustNotifications(t, db, "bob", false, 10*total)); n != agenda.MaxNotificationsKept {
		t.Errorf("marking a pruned notification read left bob %d, want %d", n, agenda.MaxNotificationsKept)
	}
	if n := len(mustNotifications(t, db, "ana", false, 100)); n != 5 {
		t.Errorf("ana has %d notifications, want her 5: a prune is one user's", n)
	}
}
