package readmodel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/sqlite"
	"github.com/agendahq/agenda/readmodel"
)

// TestQueryPlans holds the reads whose cost would otherwise grow with
// what a user or a group has stored to the index that bounds them: a
// partial index is used only by a query that names its condition, and a
// plan that drifts shows in no other test.
func TestQueryPlans(t *testing.T) {
	_, path := mustOpenDB(t)
	raw := rawDB(t, path)
	for _, c := range []struct {
		name  string
		query string
		args  []any
		// want are lines the plan must hold, in this order.
		want []string
	}{
		{"GroupParticipations walks the group's appointments", readmodel.GroupParticipationsQuery,
			append([]any{"u", "g", 0}, readmodel.LiveStatusArgs...),
			[]string{"SEARCH a USING INDEX appointments_by_group (group_id=? AND status=? AND end_ns>?)", "SEARCH p USING PRIMARY KEY (appointment_id=? AND user_id=?)"}},
		{"Invitations reads pending participants only", readmodel.InvitationsQuery,
			[]any{"u", agenda.StatusCancelled, readmodel.ListCap, 0},
			[]string{"SEARCH p USING COVERING INDEX participants_by_user (user_id=?)", "SEARCH a USING PRIMARY KEY (id=?)"}},
		{"unread notifications", readmodel.UnreadNotificationsQuery, []any{"u", 20},
			[]string{"SEARCH n USING INDEX notifications_unread (user_id=?)",
				"SEARCH a USING PRIMARY KEY (id=?) LEFT-JOIN", "SEARCH s USING PRIMARY KEY (id=?) LEFT-JOIN"}},
		{"notifications", readmodel.NotificationsQuery, []any{"u", 20},
			[]string{"SEARCH n USING INDEX notifications_by_user (user_id=?)",
				"SEARCH a USING PRIMARY KEY (id=?) LEFT-JOIN", "SEARCH s USING PRIMARY KEY (id=?) LEFT-JOIN"}},
		{"unread notifications counted", readmodel.NotificationStateQuery, []any{"u", "n"},
			[]string{"SEARCH notifications USING INDEX notifications_unread (user_id=?)"}},
		{"notifications pruned", readmodel.PruneNotificationsQuery, []any{"u", agenda.MaxNotificationsKept - 1},
			[]string{"SEARCH notifications USING INDEX notifications_by_user (user_id=? AND position<?)",
				"SEARCH notifications USING COVERING INDEX notifications_by_user (user_id=?)"}},
		{"notifications marked read", readmodel.MarkNotificationsReadQuery, []any{1, "node-a", "u", 10},
			[]string{"SEARCH notifications USING INDEX notifications_unread (user_id=? AND position<?)"}},
		{"users searched by prefix", readmodel.SearchUsersQuery, []any{"ana", "anb", 20, "ana", "anb"},
			[]string{"MULTI-INDEX OR", "SEARCH users USING INDEX sqlite_autoindex_users_2 (username>? AND username<?)",
				"SEARCH users USING INDEX users_by_display_fold (display_fold>? AND display_fold<?)"}},
		{"a user's feed names its people by key", readmodel.UserFeedQuery, []any{"u", 1, 2, 3},
			[]string{"SEARCH f USING PRIMARY KEY (user_id=? AND position>? AND position<?)", "SEARCH e USING PRIMARY KEY (position=? AND variant=?)",
				"SEARCH a USING PRIMARY KEY (id=?) LEFT-JOIN", "SEARCH s USING PRIMARY KEY (id=?) LEFT-JOIN"}},
		{"the feed fanned out names its people by key", readmodel.FeedRangeQuery, []any{1, 2, 3},
			[]string{"SEARCH f USING INDEX feed_by_position (position>? AND position<?)", "SEARCH e USING PRIMARY KEY (position=? AND variant=?)",
				"SEARCH a USING PRIMARY KEY (id=?) LEFT-JOIN", "SEARCH s USING PRIMARY KEY (id=?) LEFT-JOIN"}},
		{"feed pruned", readmodel.PruneFeedQuery, []any{10},
			[]string{"SEARCH feed USING COVERING INDEX feed_by_position (position<?)"}},
		{"PendingGroupAppointments counts in the index", readmodel.PendingGroupAppointmentsQuery,
			[]any{"g", agenda.StatusPending, agenda.StatusConfirmed, agenda.RolePending, 0, agenda.MemberActive},
			[]string{"SEARCH a USING INDEX appointments_by_group (group_id=? AND status=?)",
				"SEARCH m USING PRIMARY KEY (group_id=? AND user_id=?)",
				"SEARCH a USING COVERING INDEX appointments_by_group (group_id=? AND status=? AND end_ns>?)",
				"SEARCH p EXISTS USING PRIMARY KEY (appointment_id=?)"}},
		// By the invitee's open invitations, not by the group's
		// appointments: those a superior imposes have no bound.
		{"PendingInvitations reads the invitee's open invitations", readmodel.PendingInvitationsQuery,
			[]any{"u", "g", agenda.StatusCancelled, 0, agenda.MaxPendingInvitations},
			[]string{"SEARCH p USING COVERING INDEX participants_by_user (user_id=?)", "SEARCH a USING PRIMARY KEY (id=?)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan, err := sqlite.QueryPlan(context.Background(), raw, c.query, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			next := 0
			for _, line := range plan {
				if next < len(c.want) && line == c.want[next] {
					next++
				}
			}
			if next < len(c.want) {
				t.Errorf("plan:\n\t%s\nwant, in order:\n\t%s", strings.Join(plan, "\n\t"), strings.Join(c.want, "\n\t"))
			}
		})
	}
}
