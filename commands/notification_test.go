package commands_test

import (
	"context"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

func TestMarkNotificationRead(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		state    agenda.NotificationState
		ifMatch  int64
		wantCode string
		wantRead bool // a notification.read is proposed
	}{
		{name: "unread", state: agenda.NotificationState{StreamVersion: 5, Found: true, Unread: 2, Version: 1}, wantRead: true},
		{name: "unread, at the version named", state: agenda.NotificationState{StreamVersion: 5, Found: true, Unread: 2, Version: 1}, ifMatch: 1, wantRead: true},
		{name: "already read: nothing written", state: agenda.NotificationState{StreamVersion: 5, Found: true, Read: true, Unread: 2, Version: 2}},
		// If-Match is compared here too (a review found it ignored).
		{name: "another version named", state: agenda.NotificationState{StreamVersion: 5, Found: true, Unread: 2, Version: 1}, ifMatch: 7, wantCode: agenda.EPRECONDITIONFAILED},
		{name: "read since the version named", state: agenda.NotificationState{StreamVersion: 5, Found: true, Read: true, Version: 2}, ifMatch: 1, wantCode: agenda.EPRECONDITIONFAILED},
		{name: "not found", state: agenda.NotificationState{StreamVersion: 5, Unread: 2}, wantCode: agenda.ENOTFOUND},
		{name: "not found, whatever If-Match", state: agenda.NotificationState{StreamVersion: 5, Unread: 2}, ifMatch: 3, wantCode: agenda.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			r := groupWorld(t)
			r.notifications["bob/n1"] = tc.state
			res, err := newHandlers(log, r).MarkNotificationRead(ctx, commands.MarkNotificationRead{ActorID: "bob", NotificationID: "n1", IfMatch: ifMatchOf(tc.ifMatch)})
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, "")
				noProposal(t, log)
				return
			}
			if err != nil {
				t.Fatalf("MarkNotificationRead: %v", err)
			}
			if !tc.wantRead {
				noProposal(t, log)
				if res.Position != 0 {
					t.Errorf("result position = %d, want 0", res.Position)
				}
				return
			}
			evs := proposal(t, log, "bob", map[string]int64{"notifications-bob": 5}, "notification.read")
			if got := evs[0].(events.NotificationRead); got != (events.NotificationRead{UserID: "bob", NotificationID: "n1"}) {
				t.Errorf("read = %+v", got)
			}
		})
	}
	t.Run("someone else's notification is not found", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.notifications["bob/n1"] = agenda.NotificationState{StreamVersion: 5, Found: true}
		_, err := newHandlers(log, r).MarkNotificationRead(ctx, commands.MarkNotificationRead{ActorID: "cat", NotificationID: "n1"})
		wantCode(t, err, agenda.ENOTFOUND, "")
		noProposal(t, log)
	})
}

func TestMarkAllNotificationsRead(t *testing.T) {
	ctx := context.Background()
	t.Run("marks read up to the newest notification the user could see", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.position = 60 // the read model as a whole is not what the user saw
		r.notifications["bob/"] = agenda.NotificationState{StreamVersion: 3, Unread: 4, Latest: 57}
		if _, err := newHandlers(log, r).MarkAllNotificationsRead(ctx, "bob"); err != nil {
			t.Fatalf("MarkAllNotificationsRead: %v", err)
		}
		evs := proposal(t, log, "bob", map[string]int64{"notifications-bob": 3}, "notification.all_read")
		if got := evs[0].(events.NotificationsAllRead); got != (events.NotificationsAllRead{UserID: "bob", UpToPosition: 57}) {
			t.Errorf("all read = %+v, want bob up to 57", got)
		}
	})
	t.Run("nothing unread: nothing written", func(t *testing.T) {
		log := &fakeLog{}
		r := groupWorld(t)
		r.position = 57
		r.notifications["bob/"] = agenda.NotificationState{StreamVersion: 3}
		res, err := newHandlers(log, r).MarkAllNotificationsRead(ctx, "bob")
		if err != nil {
			t.Fatalf("MarkAllNotificationsRead: %v", err)
		}
		noProposal(t, log)
		if res.Position != 0 {
			t.Errorf("result position = %d, want 0", res.Position)
		}
	})
}
