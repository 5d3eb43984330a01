package readmodel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// BenchmarkAgendaQuery measures Agenda for a one-week window over a user
// with 100,000 appointments spread over five years (about 380 per week),
// beside 20 other users with 2,000 appointments each. It reports the p50 and
// p99 latency of single queries; target p99 < 5 ms.
//
// An op is one query. So that the percentiles mean something even with
// -benchtime 1x, at least minSamples queries are timed; ns/op is reported
// as their mean.
func BenchmarkAgendaQuery(b *testing.B) {
	const (
		mine       = 100_000
		others     = 20
		perOther   = 2_000
		minSamples = 2_000
		span       = 5 * 365 * 24 * time.Hour
	)
	ctx := context.Background()
	db, _ := mustOpenDB(b)
	begin := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	durations := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 8 * time.Hour}

	insert := func(owner string, n int, spacing time.Duration) {
		const chunk = 5000
		for done := 0; done < n; done += chunk {
			mustApply(b, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
				for i := done; i < min(done+chunk, n); i++ {
					start := begin.Add(time.Duration(i) * spacing).Add(time.Duration(rng.IntN(10)) * time.Minute)
					end := start.Add(durations[rng.IntN(len(durations))])
					id := fmt.Sprintf("%s-%06d", owner, i)
					if err := tx.InsertAppointment(appointmentRecord(id, owner, start, end)); err != nil {
						return err
					}
					if err := tx.AddAgendaEntry(owner, id, start, end, agenda.RoleOwner, "node-a"); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	insert("me", mine, span/mine)
	for u := 0; u < others; u++ {
		insert(fmt.Sprintf("other%02d", u), perOther, span/perOther)
	}

	week := 7 * 24 * time.Hour
	samples := make([]time.Duration, 0, max(b.N, minSamples))
	rows := 0
	b.ResetTimer()
	for i := 0; i < max(b.N, minSamples); i++ {
		from := begin.Add(time.Duration(rng.Int64N(int64(span - week))))
		t0 := time.Now()
		entries, err := db.Agenda(ctx, "me", from, from.Add(week))
		samples = append(samples, time.Since(t0))
		if err != nil {
			b.Fatalf("Agenda: %v", err)
		}
		rows += len(entries)
	}
	b.StopTimer()

	slices.Sort(samples)
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	pct := func(p float64) float64 {
		return float64(samples[int(p*float64(len(samples)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(sum)/float64(len(samples)), "ns/op")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(rows)/float64(len(samples)), "entries/query")
}
