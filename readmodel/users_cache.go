package readmodel

import (
	"sync"

	"github.com/agendahq/agenda"
)

// usersCacheSize bounds each map of the users cache; a full map is emptied.
const usersCacheSize = 8192

// usersCache holds what TokenState and UserByID read, tagged with the
// generation they were read at: every authenticated request reads its
// token's state, and a booking reads its owner, each a statement of some
// 20 µs on a read model that is being written to. Both live in the users
// projection's tables, so every users transaction that writes anything (a
// registration, a profile or password change, a logout), and every
// wholesale change of those tables (a reset, a switch), starts a new
// generation, and only an entry read in the current generation is served.
// Under a load of appointment writes the generation stays put.
//
// An entry is tagged with the generation read *before* its statement ran:
// if a write commits in between, the entry is older than the generation
// and is read again on the next request. The generation moves before the
// read model's position does, so a request that waits for a write's
// position never sees a user or a token state from before it.
type usersCache struct {
	mu     sync.Mutex
	gen    uint64
	tokens map[tokenKey]cachedTokenState
	users  map[string]cachedUser
}

type tokenKey struct{ userID, tokenID string }

type cachedTokenState struct {
	gen uint64
	st  agenda.TokenState
}

type cachedUser struct {
	gen uint64
	u   agenda.User
}

// current returns the generation to tag a read with.
func (c *usersCache) current() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *usersCache) token(userID, tokenID string) (agenda.TokenState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.tokens[tokenKey{userID, tokenID}]
	if !ok || e.gen != c.gen {
		return agenda.TokenState{}, false
	}
	return e.st, true
}

// putToken records st, read at generation gen, unless the cache moved on.
func (c *usersCache) putToken(userID, tokenID string, gen uint64, st agenda.TokenState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.tokens == nil || len(c.tokens) >= usersCacheSize {
		c.tokens = make(map[tokenKey]cachedTokenState)
	}
	c.tokens[tokenKey{userID, tokenID}] = cachedTokenState{gen: gen, st: st}
}

func (c *usersCache) user(id string) (agenda.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.users[id]
	if !ok || e.gen != c.gen {
		return agenda.User{}, false
	}
	return e.u, true
}

// putUser records u, read at generation gen, unless the cache moved on.
func (c *usersCache) putUser(gen uint64, u agenda.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.users == nil || len(c.users) >= usersCacheSize {
		c.users = make(map[string]cachedUser)
	}
	c.users[u.ID] = cachedUser{gen: gen, u: u}
}

// invalidate starts a new generation: every entry is stale.
func (c *usersCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.tokens, c.users = nil, nil
}
