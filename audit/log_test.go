package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/audit"
)

func mustOpen(t testing.TB, path string, opts audit.Options) *audit.Log {
	t.Helper()
	l, err := audit.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("open audit log: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Everything recorded before a clean Close is stored, in order, and the
// filters and paging select what they say.
func TestRecordCloseQuery(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	l := mustOpen(t, path, audit.Options{NodeID: "n1"})
	base := time.Now().Add(-24 * time.Hour).UTC()
	const n = 5000
	for i := 0; i < n; i++ {
		l.Record(agenda.AuditEntry{At: base.Add(time.Duration(i) * time.Second), Actor: fmt.Sprintf("u%d", i%3),
			Action: []string{"appointment.create", "auth.login"}[i%2], Target: fmt.Sprint(i), Result: agenda.AuditAccepted,
			Details: map[string]any{"i": i}})
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if l.Dropped() != 0 { // 5,000 entries fit the 16,384-entry queue
		t.Fatalf("%d entries dropped", l.Dropped())
	}
	l.Record(agenda.AuditEntry{Action: "after.close"}) // dropped, not a panic
	l = mustOpen(t, path, audit.Options{NodeID: "n1"})
	all, next, err := l.Query(ctx, agenda.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1000 || next == 0 {
		t.Fatalf("first page: %d entries, next %d; want 1000 and a cursor", len(all), next)
	}
	if all[0].Target != fmt.Sprint(n-1) || all[0].NodeID != "n1" || all[0].Details["i"] != float64(n-1) {
		t.Errorf("newest entry = %+v", all[0])
	}
	total := len(all)
	for next != 0 {
		var page []agenda.AuditEntry
		page, next, err = l.Query(ctx, agenda.AuditQuery{Limit: 1000, Before: next})
		if err != nil {
			t.Fatal(err)
		}
		total += len(page)
	}
	if total != n {
		t.Errorf("paged through %d entries, want all %d recorded before Close", total, n)
	}
	got, _, err := l.Query(ctx, agenda.AuditQuery{Actor: "u1", Action: "auth.login", Since: base.Add(time.Duration(n-60) * time.Second), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	// i in [n-60, n) with i%3 == 1 and i odd: i ≡ 1 (mod 6): 10 of them.
	if len(got) != 10 {
		t.Errorf("filtered query gave %d entries, want 10", len(got))
	}
	for _, e := range got {
		if e.Actor != "u1" || e.Action != "auth.login" || e.At.Before(base.Add(time.Duration(n-60)*time.Second)) {
			t.Errorf("filtered query gave %+v", e)
		}
	}
	if got, _, _ := l.Query(ctx, agenda.AuditQuery{Node: "other"}); len(got) != 0 {
		t.Errorf("node filter: %d entries of another node", len(got))
	}
	// U1 finds u1's entries, as a login folds the name; so does
	// an entry recorded as U1 (older builds kept refused names as typed).
	l.Record(agenda.AuditEntry{Actor: "U1", Action: "auth.login", Result: agenda.AuditFailure})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, path, audit.Options{NodeID: "n1"})
	logins := (n + 4) / 6 // i ≡ 1 (mod 6) in [0, n)
	if got, _, err := l.Query(ctx, agenda.AuditQuery{Actor: "U1", Action: "auth.login", Limit: 1000}); err != nil || len(got) != logins+1 {
		t.Errorf("?actor=U1: %d entries, %v; want u1's %d logins and U1's one", len(got), err, logins)
	}
	if got, _, err := l.Query(ctx, agenda.AuditQuery{Actor: "u1", Action: "auth.login", Limit: 1000}); err != nil || len(got) != logins {
		t.Errorf("?actor=u1: %d entries, %v; want u1's %d logins", len(got), err, logins)
	}
}

// Retention: at open, entries older than the retention, and all but the
// newest MaxRows, are deleted.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	now := time.Now()
	for i := 0; i < 30; i++ {
		if err := audit.Append(ctx, path, agenda.AuditEntry{At: now.Add(-time.Duration(30-i) * 24 * time.Hour), Action: "old", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	l := mustOpen(t, path, audit.Options{Retention: 10*24*time.Hour + time.Hour})
	got, _, _ := l.Query(ctx, agenda.AuditQuery{})
	if len(got) != 10 {
		t.Fatalf("after a 10-day retention: %d entries, want 10", len(got))
	}
	l.Close()
	l = mustOpen(t, path, audit.Options{Retention: 365 * 24 * time.Hour, MaxRows: 4})
	got, _, _ = l.Query(ctx, agenda.AuditQuery{})
	if len(got) != 4 || got[0].Target != "29" {
		t.Fatalf("after MaxRows 4: %+v", got)
	}
}

// The row cap holds while entries keep coming, not only at the hourly
// prune: a node auditing 2,000 commands a second would otherwise write 7
// million rows past it in an hour.
func TestMaxRowsHoldsBetweenPrunes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	const maxRows = 100
	l := mustOpen(t, path, audit.Options{MaxRows: maxRows, PruneEvery: time.Hour})
	for i := range 1000 {
		l.Record(agenda.AuditEntry{Action: "appointment.create", Target: fmt.Sprint(i)})
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Reopening prunes to the cap: count through the file instead.
	var rows int
	if err := audit.CountRows(ctx, path, &rows); err != nil {
		t.Fatal(err)
	}
	if limit := maxRows + maxRows/10; rows >= limit {
		t.Fatalf("%d rows after 1,000 entries with MaxRows %d, want fewer than %d", rows, maxRows, limit)
	}
}

// BenchmarkRecord is the cost Record adds to a request.
func BenchmarkRecord(b *testing.B) {
	l, err := audit.Open(context.Background(), filepath.Join(b.TempDir(), "audit.db"), audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := agenda.AuditEntry{Actor: "u", Action: "appointment.create", Target: "a", Result: agenda.AuditAccepted, Details: map[string]any{"status": 201}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Record(e)
	}
}

// An entry keeps at most audit.MaxField bytes of each text field, whatever
// the request sent: a review stored 60 KB usernames from refused logins.
func TestRecordClipsText(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	l := mustOpen(t, path, audit.Options{NodeID: "n1"})
	long := strings.Repeat("é", 30000) // two bytes a character: a cut must not split one
	details := map[string]any{"route": long, "status": 401}
	l.Record(agenda.AuditEntry{Actor: long, Action: "POST /" + long, Target: long, Result: agenda.AuditRefused,
		RequestID: long, Details: details})
	if details["route"] != long {
		t.Errorf("Record changed the caller's details")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, path, audit.Options{NodeID: "n1"})
	got, _, err := l.Query(ctx, agenda.AuditQuery{})
	if err != nil || len(got) != 1 {
		t.Fatalf("query: %v, %d entries", err, len(got))
	}
	e := got[0]
	for name, f := range map[string]string{"actor": e.Actor, "action": e.Action, "target": e.Target, "request_id": e.RequestID} {
		if len(f) > audit.MaxField || !utf8.ValidString(f) || !strings.HasSuffix(f, "…") {
			t.Errorf("%s kept %d bytes (valid UTF-8: %v): %.40q…", name, len(f), utf8.ValidString(f), f)
		}
	}
	if !strings.HasPrefix(e.Action, "POST /éé") || !strings.HasPrefix(e.Actor, "éé") {
		t.Errorf("the clipped fields lost their beginning: %.20q, %.20q", e.Action, e.Actor)
	}
	route, _ := e.Details["route"].(string)
	if len(route) > 1024 || !strings.HasSuffix(route, "…") || e.Details["status"] != float64(401) {
		t.Errorf("details kept %d bytes of the route, status %v", len(route), e.Details["status"])
	}
	if e.Result != agenda.AuditRefused || e.NodeID != "n1" {
		t.Errorf("short fields changed: %+v", e)
	}
}
