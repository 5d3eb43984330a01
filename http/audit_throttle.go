package http

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/agendahq/agenda"
)

// refusalThrottle keeps refusals from flooding the audit trail. A refusal
// costs its sender nothing (no token, or a free account, and any path), and
// the trail keeps its newest rows only, so one row each let a flood push
// the oldest out, the evidence of a password guessed among them (an
// attacker's review: 1,500 requests evicted it). So the first refusal of a
// kind is recorded at once, and the rest of the minute's are held back and
// recorded as one row when the minute is over: the last of them, with
// details.suppressed counting them all and details.targets naming up to
// 16 of the resources they were refused on.
//
// A kind is who was refused, the action and the status. Who is the user of
// a token, or else the client's network (its address; for IPv6 its /64,
// which any one host can draw addresses from), never a name the request
// claims: a login or a registration names whatever it likes, and each name
// would be a kind of its own (a review found 200 refused logins making 200
// rows). So a named user's rows are never folded into an anonymous flood,
// and an anonymous flood has as many kinds as the networks it comes from.
//
// Past MaxKeys kinds at once, a token's user is still recorded (their
// first refusal of each kind, unthrottled: their number is bounded by the
// accounts, which registrations' limits bound), and the rest are dropped
// and counted in an audit.refusals_dropped row.
type refusalThrottle struct {
	Interval time.Duration // 0: one minute
	MaxKeys  int           // 0: 65,536

	mu        sync.Mutex
	windows   map[string]*refusalWindow
	overflow  int       // anonymous refusals past MaxKeys, not recorded
	lastSweep time.Time // sweeps run at most once a second
}

type refusalWindow struct {
	opened  time.Time
	held    int
	last    agenda.AuditEntry // the latest held back
	targets []string          // distinct targets held back, up to maxHeldTargets
}

const maxHeldTargets = 16

// admit says whether e, a refusal of kind key, is to be recorded now, and
// returns the summary rows of windows that have closed (to record too).
// named says that e's actor comes from a token.
func (t *refusalThrottle) admit(key string, e agenda.AuditEntry, named bool, now time.Time) (record bool, summaries []agenda.AuditEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	summaries = t.sweepLocked(now, false)
	if w, ok := t.windows[key]; ok {
		w.held++
		w.last = e.Clipped() // a held entry is bounded like a row of the trail
		if len(w.targets) < maxHeldTargets && e.Target != "" && !slices.Contains(w.targets, w.last.Target) {
			w.targets = append(w.targets, w.last.Target)
		}
		return false, summaries
	}
	if len(t.windows) >= cmp.Or(t.MaxKeys, 1<<16) {
		if named {
			return true, summaries
		}
		t.overflow++
		return false, summaries
	}
	if t.windows == nil {
		t.windows = map[string]*refusalWindow{}
	}
	t.windows[key] = &refusalWindow{opened: now}
	return true, summaries
}

// sweep returns the summary rows of windows that have closed.
func (t *refusalThrottle) sweep(now time.Time) []agenda.AuditEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sweepLocked(now, false)
}

// flush closes every window and returns their summary rows: what a node
// stopping still owes the trail.
func (t *refusalThrottle) flush() []agenda.AuditEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sweepLocked(time.Now(), true)
}

func (t *refusalThrottle) sweepLocked(now time.Time, all bool) []agenda.AuditEntry {
	if !all && now.Sub(t.lastSweep) < time.Second {
		return nil
	}
	t.lastSweep = now
	interval := cmp.Or(t.Interval, time.Minute)
	var out []agenda.AuditEntry
	for k, w := range t.windows {
		if !all && now.Sub(w.opened) < interval {
			continue
		}
		delete(t.windows, k)
		if w.held > 0 {
			e := w.last
			e.Details = maps.Clone(e.Details)
			if e.Details == nil {
				e.Details = map[string]any{}
			}
			e.Details["suppressed"] = w.held
			e.Details["since"] = w.opened.UTC()
			e.Details["targets"] = w.targets
			out = append(out, e)
		}
	}
	if t.overflow > 0 {
		out = append(out, agenda.AuditEntry{Action: "audit.refusals_dropped", Result: agenda.AuditRefused,
			Details: map[string]any{"dropped": t.overflow, "reason": "too many kinds of refusal at once to count each"}})
		t.overflow = 0
	}
	return out
}

// RunAuditSweeps records, once a second until ctx ends, the summary rows
// of the refusal windows that have closed, so that a burst's count is
// written within about a second of its minute's end even if no audited
// request follows; FlushAudit records the rest when the node stops.
func (s *Server) RunAuditSweeps(ctx context.Context) {
	if s.Audit == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, e := range s.auditRefusals.sweep(now) {
				s.Audit.Record(e)
			}
		}
	}
}

// FlushAudit records the summary rows of every refusal window still open:
// called once the server takes no more requests, before the trail closes.
func (s *Server) FlushAudit() {
	if s.Audit == nil {
		return
	}
	for _, e := range s.auditRefusals.flush() {
		s.Audit.Record(e)
	}
}
