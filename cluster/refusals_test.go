package cluster

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda/internal/throttle"
)

// A host hammering with bad credentials gets one audit line per interval,
// the next one saying how many were held back; another host is logged at
// once, and ports do not make hosts distinct.
func TestRefusalsThrottlePerHost(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	r := &Refusals{Logger: slog.New(slog.NewTextHandler(&out, nil)), Interval: time.Minute}
	r.hosts.Now = func() time.Time { return now }
	lines := func() []string {
		s := strings.TrimSpace(out.String())
		out.Reset()
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}

	for i := range 100 {
		r.Log("internal request refused", fmt.Sprintf("10.0.0.9:%d", 40000+i), "reason", "bad signature")
	}
	got := lines()
	if len(got) != 1 || !strings.Contains(got[0], "action=cluster.auth_refused") || !strings.Contains(got[0], "remote=10.0.0.9:40000") ||
		!strings.Contains(got[0], `reason="bad signature"`) || strings.Contains(got[0], "suppressed") {
		t.Fatalf("100 refusals from one host logged %q, want its first only", got)
	}

	r.Log("raft connection refused", "10.0.0.7:5000")
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "remote=10.0.0.7:5000") {
		t.Fatalf("another host logged %q, want one line", got)
	}

	now = now.Add(time.Minute)
	r.Log("internal request refused", "10.0.0.9:41000")
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "suppressed_since_last=99") {
		t.Fatalf("after the interval got %q, want one line reporting 99 held back", got)
	}
}

// The table stays bounded however many hosts are refused: hosts beyond it
// share one entry until old ones expire.
func TestRefusalsTableIsBounded(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	r := &Refusals{Logger: slog.New(slog.NewTextHandler(&out, nil))}
	r.hosts.Now = func() time.Time { return now }
	for i := range 3 * throttle.MaxKeys {
		r.Log("refused", fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255))
	}
	if n := r.hosts.Len(); n > throttle.MaxKeys+1 {
		t.Fatalf("%d hosts tracked, want at most %d", n, throttle.MaxKeys+1)
	}
	if n := strings.Count(out.String(), "\n"); n != throttle.MaxKeys+1 {
		t.Fatalf("%d lines for %d hosts, want %d (one per tracked host, one for the rest)", n, 3*throttle.MaxKeys, throttle.MaxKeys+1)
	}
	now = now.Add(time.Minute)
	out.Reset()
	r.Log("refused", "192.168.1.1:1")
	if !strings.Contains(out.String(), "remote=192.168.1.1:1") {
		t.Fatalf("a new host after expiry was not logged: %q", out.String())
	}
	if n := r.hosts.Len(); n > throttle.MaxKeys {
		t.Fatalf("%d hosts tracked after expiry, want the old ones forgotten", n)
	}
}
