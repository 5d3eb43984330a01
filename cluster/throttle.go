package cluster

import (
	"sync"
	"time"
)

// throttle decides which of a stream of repeated log lines get written:
// the first for a key at once, then at most one per interval, each saying
// how many were held back since the last. Refused peers retry every
// gossip round or faster, so every such line goes through one.
type throttle struct {
	interval time.Duration    // 0: one minute
	now      func() time.Time // tests

	mu   sync.Mutex
	keys map[string]*throttleWindow
}

type throttleWindow struct {
	logged     time.Time // when a line was last written for the key
	suppressed int       // lines held back since then
}

// maxThrottleKeys bounds the table: past it, keys last logged an interval
// ago or more are forgotten, and if none are, new keys share one entry.
const maxThrottleKeys = 1024

// overflowKey is the shared entry for keys beyond maxThrottleKeys.
const overflowKey = "(others)"

// allow reports whether a line for key may be written now, and how many
// were held back since the last one.
func (t *throttle) allow(key string) (ok bool, suppressed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.now != nil {
		now = t.now()
	}
	interval := t.interval
	if interval <= 0 {
		interval = time.Minute
	}
	if t.keys == nil {
		t.keys = map[string]*throttleWindow{}
	}
	win, found := t.keys[key]
	if !found && len(t.keys) >= maxThrottleKeys {
		for k, w := range t.keys {
			if now.Sub(w.logged) >= interval {
				delete(t.keys, k) // its held-back count goes unreported
			}
		}
		if len(t.keys) >= maxThrottleKeys {
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
