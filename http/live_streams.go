package http

import "sync"

// DefaultMaxStreamsPerUser bounds the live streams one user holds open on a
// node: enough for every tab and device a person uses, and far below what
// the listener lets one address open, so that one stolen or scripted token
// cannot take a node's connections and hub subscriptions for itself.
const DefaultMaxStreamsPerUser = 32

// streamCounts counts the live streams each user holds open.
type streamCounts struct {
	mu     sync.Mutex
	byUser map[string]int
}

// open counts a new stream of user unless they already hold max; release
// ends it.
func (c *streamCounts) open(user string, max int) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser[user] >= max {
		return nil, false
	}
	if c.byUser == nil {
		c.byUser = map[string]int{}
	}
	c.byUser[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.byUser[user]--; c.byUser[user] <= 0 {
				delete(c.byUser, user)
			}
		})
	}, true
}
