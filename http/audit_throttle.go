package http

import (
	"cmp"
	"maps"
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
// details.suppressed counting them all.
//
// A kind is who was refused (the actor, or the client address when the
// request named no one), the action and the status: a named user's rows
// are never folded into an anonymous flood from the same address, nor one
// action's into another's.
type refusalThrottle struct {
	Interval time.Duration // 0: one minute
	MaxKeys  int           // 0: 65,536

	mu        sync.Mutex
	windows   map[string]*refusalWindow
	overflow  int       // refusals past MaxKeys, not recorded
	lastSweep time.Time // sweeps run at most once a second
}

type refusalWindow struct {
	opened time.Time
	held   int
	last   agenda.AuditEntry // the latest held back
}

// admit says whether e, a refusal of kind key, is to be recorded now, and
// returns the summary rows of windows that have closed (to record too).
func (t *refusalThrottle) admit(key string, e agenda.AuditEntry, now time.Time) (record bool, summaries []agenda.AuditEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	summaries = t.sweepLocked(now)
	if w, ok := t.windows[key]; ok {
		w.held++
		w.last = e
		return false, summaries
	}
	if len(t.windows) >= cmp.Or(t.MaxKeys, 1<<16) {
		t.overflow++
		return false, summaries
	}
	if t.windows == nil {
		t.windows = map[string]*refusalWindow{}
	}
	t.windows[key] = &refusalWindow{opened: now}
	return true, summaries
}

// sweep returns the summary rows of windows that have closed; every
// audited request calls it, so that a flood's count is recorded within a
// second or so of its minute's end as long as the node sees any write.
func (t *refusalThrottle) sweep(now time.Time) []agenda.AuditEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sweepLocked(now)
}

func (t *refusalThrottle) sweepLocked(now time.Time) []agenda.AuditEntry {
	if now.Sub(t.lastSweep) < time.Second {
		return nil
	}
	t.lastSweep = now
	interval := t.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	var out []agenda.AuditEntry
	for k, w := range t.windows {
		if now.Sub(w.opened) < interval {
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
