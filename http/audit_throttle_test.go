package http

import (
	"testing"
	"time"

	"github.com/agendahq/agenda"
)

// A kind of refusal is recorded at once, the rest of its minute held back,
// and the held-back ones recorded as one row once the minute is over: the
// last of them, counting them all. A review found the count of a burst
// never recorded when nothing of its kind came after it.
func TestRefusalThrottle(t *testing.T) {
	var th refusalThrottle
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	entry := func(target string) agenda.AuditEntry {
		return agenda.AuditEntry{Actor: "ana", Action: "appointment.create", Target: target, Result: agenda.AuditRefused,
			Details: map[string]any{"status": 404}}
	}
	if ok, sums := th.admit("ana/create/404", entry("a1"), t0); !ok || len(sums) != 0 {
		t.Fatalf("first refusal: record %v, summaries %v; want it recorded", ok, sums)
	}
	for i := range 99 {
		if ok, _ := th.admit("ana/create/404", entry("later"), t0.Add(time.Duration(i)*100*time.Millisecond)); ok {
			t.Fatalf("refusal %d of the minute recorded", i+2)
		}
	}
	if ok, _ := th.admit("bob/create/404", entry("b1"), t0.Add(30*time.Second)); !ok {
		t.Fatal("another kind's first refusal held back")
	}
	if sums := th.sweep(t0.Add(59 * time.Second)); len(sums) != 0 {
		t.Fatalf("summaries before the minute is over: %v", sums)
	}
	sums := th.sweep(t0.Add(61 * time.Second))
	if len(sums) != 1 || sums[0].Details["suppressed"] != 99 || sums[0].Actor != "ana" || sums[0].Details["status"] != 404 {
		t.Fatalf("summaries after the minute: %+v; want one of ana's, counting 99", sums)
	}
	if sums := th.sweep(t0.Add(61*time.Second + 500*time.Millisecond)); len(sums) != 0 {
		t.Fatalf("a second sweep within the second: %v", sums)
	}
	if ok, _ := th.admit("ana/create/404", entry("a9"), t0.Add(62*time.Second)); !ok {
		t.Fatal("the first refusal of a new minute held back")
	}
	// bob's window closed with nothing held back: no summary.
	for _, s := range th.sweep(t0.Add(95 * time.Second)) {
		if s.Actor == "bob" {
			t.Errorf("a summary for a window that held nothing back: %+v", s)
		}
	}

	small := refusalThrottle{MaxKeys: 2}
	small.admit("k1", entry("x"), t0)
	small.admit("k2", entry("x"), t0)
	if ok, _ := small.admit("k3", entry("x"), t0); ok {
		t.Fatal("a kind past MaxKeys recorded")
	}
	sums = small.sweep(t0.Add(2 * time.Second))
	if len(sums) != 1 || sums[0].Action != "audit.refusals_dropped" || sums[0].Details["dropped"] != 1 {
		t.Fatalf("summaries past MaxKeys: %+v; want one counting the dropped refusal", sums)
	}
}
