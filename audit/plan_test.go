package audit

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/sqlite"
)

// TestQueryPlans holds Query's statements to plans bounded by what they
// select: a time window or an actor's entries, not the whole trail.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	db, err := openDB(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	since := time.Now()
	for _, c := range []struct {
		name string
		q    agenda.AuditQuery
		want string
	}{
		{"since", agenda.AuditQuery{Since: since}, "SEARCH audit_logs USING INTEGER PRIMARY KEY (rowid>?)"},
		{"since and node", agenda.AuditQuery{Since: since, Node: "n2"}, "SEARCH audit_logs USING INTEGER PRIMARY KEY (rowid>?)"},
		{"actor", agenda.AuditQuery{Actor: "u"}, "SEARCH audit_logs USING INDEX audit_logs_by_actor (actor=?)"},
		{"since and actor", agenda.AuditQuery{Since: since, Actor: "u"}, "SEARCH audit_logs USING INDEX audit_logs_by_actor (actor=? AND id>?)"},
		// A name with capitals looks up both it and the name folded (and
		// sorts what both hold: rare, and an administrator's query).
		{"actor with capitals", agenda.AuditQuery{Actor: "U"}, "SEARCH audit_logs USING INDEX audit_logs_by_actor (actor=?)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stmt, args := queryStatement(c.q, 100)
			plan, err := sqlite.QueryPlan(ctx, db.Read, stmt, args...)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{c.want}
			if !c.q.Since.IsZero() {
				want = append(want, "SEARCH audit_logs USING COVERING INDEX audit_logs_by_at (at>?)")
			}
			for _, w := range want {
				if !slices.Contains(plan, w) {
					t.Errorf("plan:\n\t%s\nwant a line %q", strings.Join(plan, "\n\t"), w)
				}
			}
		})
	}
}
