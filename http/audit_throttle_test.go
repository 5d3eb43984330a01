package http

import (
	"fmt"
	"strings"
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
	if ok, sums := th.admit("ana/create/404", entry("a1"), true, t0); !ok || len(sums) != 0 {
		t.Fatalf("first refusal: record %v, summaries %v; want it recorded", ok, sums)
	}
	for i := range 99 {
		if ok, _ := th.admit("ana/create/404", entry(fmt.Sprintf("a%d", 2+i%20)), true, t0.Add(time.Duration(i)*100*time.Millisecond)); ok {
			t.Fatalf("refusal %d of the minute recorded", i+2)
		}
	}
	if ok, _ := th.admit("bob/create/404", entry("b1"), true, t0.Add(30*time.Second)); !ok {
		t.Fatal("another kind's first refusal held back")
	}
	if sums := th.sweep(t0.Add(59 * time.Second)); len(sums) != 0 {
		t.Fatalf("summaries before the minute is over: %v", sums)
	}
	sums := th.sweep(t0.Add(61 * time.Second))
	if len(sums) != 1 || sums[0].Details["suppressed"] != 99 || sums[0].Actor != "ana" || sums[0].Details["status"] != 404 {
		t.Fatalf("summaries after the minute: %+v; want one of ana's, counting 99", sums)
	}
	// The resources refused meanwhile are named, up to 16 (a review found
	// all but the first and the last in no row).
	if got := sums[0].Details["targets"].([]string); len(got) != 16 || got[0] != "a2" || got[15] != "a17" {
		t.Errorf("targets of the summary = %v, want a2 to a17", got)
	}
	if sums := th.sweep(t0.Add(61*time.Second + 500*time.Millisecond)); len(sums) != 0 {
		t.Fatalf("a second sweep within the second: %v", sums)
	}
	if ok, _ := th.admit("ana/create/404", entry("a9"), true, t0.Add(62*time.Second)); !ok {
		t.Fatal("the first refusal of a new minute held back")
	}
	// bob's window closed with nothing held back: no summary.
	for _, s := range th.sweep(t0.Add(95 * time.Second)) {
		if s.Actor == "bob" {
			t.Errorf("a summary for a window that held nothing back: %+v", s)
		}
	}

	// Past MaxKeys, an anonymous kind is dropped and counted; a token's
	// user is still recorded (a review found a flood of anonymous kinds
	// hiding every user's refusals).
	small := refusalThrottle{MaxKeys: 2}
	small.admit("k1", entry("x"), false, t0)
	small.admit("k2", entry("x"), false, t0)
	if ok, _ := small.admit("k3", entry("x"), false, t0); ok {
		t.Fatal("an anonymous kind past MaxKeys recorded")
	}
	if ok, _ := small.admit("user k4", entry("x"), true, t0); !ok {
		t.Fatal("a user's refusal past MaxKeys not recorded")
	}
	sums = small.sweep(t0.Add(2 * time.Second))
	if len(sums) != 1 || sums[0].Action != "audit.refusals_dropped" || sums[0].Details["dropped"] != 1 {
		t.Fatalf("summaries past MaxKeys: %+v; want one counting the dropped refusal", sums)
	}

	// A node stopping writes what it still holds back; what it holds is
	// bounded like a row of the trail.
	var stopping refusalThrottle
	huge := entry(strings.Repeat("x", 60_000))
	stopping.admit("k", huge, false, t0)
	stopping.admit("k", huge, false, t0)
	sums = stopping.flush()
	if len(sums) != 1 || sums[0].Details["suppressed"] != 1 || len(sums[0].Target) > agenda.AuditMaxField {
		t.Fatalf("flush = %d rows (target %d bytes), want one counting 1, its target cut to %d", len(sums), len(sums[0].Target), agenda.AuditMaxField)
	}
}

// ClientNetwork is the client's address, and an IPv6 client's /64: a host
// may draw a fresh address from its /64 for every request (a review found
// 200 anonymous refusals from one /64 making 200 audit rows).
func TestClientNetwork(t *testing.T) {
	var l Limits
	for remote, want := range map[string]string{
		"203.0.113.5:4000":            "203.0.113.5",
		"[2001:db8:1:2:aaaa::1]:4000": "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb::9]:4000": "2001:db8:1:2::/64",
		"[::ffff:203.0.113.5]:4000":   "203.0.113.5",
		"[2001:db8:1:3::1]:4000":      "2001:db8:1:3::/64",
	} {
		if got := l.ClientNetwork(requestFrom(remote, "", "")); got != want {
			t.Errorf("ClientNetwork(%s) = %q, want %q", remote, got, want)
		}
	}
}
