package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/audit"
)

// BenchmarkQuerySince reads the newest page of a time window from a trail
// of 200,000 entries, one a millisecond: a window of 10 entries, one of
// half the trail, and an empty one. None should walk the trail.
func BenchmarkQuerySince(b *testing.B) {
	const entries = 200_000
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "audit.db")
	l, err := audit.Open(ctx, path, audit.Options{NodeID: "n1", QueueSize: entries})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	for i := range entries {
		l.Record(agenda.AuditEntry{At: start.Add(time.Duration(i) * time.Millisecond), Actor: "u", Action: "appointment.create",
			Target: "a", Result: agenda.AuditAccepted, RequestID: "r"})
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	l = mustOpen(b, path, audit.Options{NodeID: "n1"})
	end := start.Add(entries * time.Millisecond)
	for _, c := range []struct {
		name  string
		since time.Time
		want  int
	}{
		{"last-10", end.Add(-10 * time.Millisecond), 10},
		{"half", start.Add(entries / 2 * time.Millisecond), 100},
		{"empty", end.Add(time.Second), 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				got, _, err := l.Query(ctx, agenda.AuditQuery{Since: c.since, Limit: 100})
				if err != nil || len(got) != c.want {
					b.Fatalf("Query(since) = %d entries, %v; want %d", len(got), err, c.want)
				}
			}
		})
	}
}
