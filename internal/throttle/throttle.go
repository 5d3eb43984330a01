// Package throttle decides which of a stream of repeated log lines get
// written. Refused connections and requests cost whoever sends them
// nothing, so a line for each would let anyone who can reach a port flood
// the log: the cluster agent's refusals and the Raft stream layer's share
// this one rule.
package throttle

import (
	"sync"
	"time"
)

// Throttle lets through the first line for a key at once, then at most one
// per Interval, each saying how many were held back since the last.
// Refused peers retry every gossip round or faster, so every such line goes
// through one. The zero value is ready to use.
type Throttle struct {
	Interval time.Duration    // 0: one minute
	Now      func() time.Time // tests

	mu   sync.Mutex
	keys map[string]*throttleWindow
}

type throttleWindow struct {
	logged     time.Time // when a line was last written for the key
	suppressed int       // lines held back since then
}

// MaxKeys bounds the table: past it, keys last logged an interval
// ago or more are forgotten, and if none are, new keys share one entry.
const MaxKeys = 1024

// overflowKey is the shared entry for keys beyond MaxKeys.
const overflowKey = "(others)"

// Allow reports whether a line for key may be written now, and how many
// were held back since the last one.
func (t *Throttle) Allow(key string) (ok bool, suppressed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	interval := t.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	if t.keys == nil {
		t.keys = map[string]*throttleWindow{}
	}
	win, found := t.keys[key]
	if !found && len(t.keys) >= MaxKeys {
		for k, w := range t.keys {
			if now.Sub(w.logged) >= interval {
				delete(t.keys, k) // its held-back count goes unreported
			}
		}
		if len(t.keys) >= MaxKeys {
			key = overflowKey
			win, found = t.keys[key]
		}
	}
	if found && now.Sub(win.logged) < interval {
		win.suppressed++
		return false, 0
	}
	if found {
		suppressed = win.suppressed
	}
	t.keys[key] = &throttleWindow{logged: now}
	return true, suppressed
}

// Len is the number of keys the throttle holds (tests check its bound).
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}
