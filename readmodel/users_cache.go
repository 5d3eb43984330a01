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
	tokens tagged[tokenKey, agenda.TokenState]
	users  tagged[string, agenda.User]
}

type tokenKey struct{ userID, tokenID string }

// tagged is one map of the cache: values with the generation they were
// read at. A full map is emptied.
type tagged[K comparable, V any] map[K]taggedValue[V]

type taggedValue[V any] struct {
	gen uint64
	v   V
}

// get returns k's value if it was read in generation gen.
func (m tagged[K, V]) get(k K, gen uint64) (V, bool) {
	e, ok := m[k]
	if !ok || e.gen != gen {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put records v, read at generation gen, unless the cache moved on (cur).
func (m *tagged[K, V]) put(k K, v V, gen, cur uint64) {
	if gen != cur {
		return
	}
	if *m == nil || len(*m) >= usersCacheSize {
		*m = make(tagged[K, V])
	}
	(*m)[k] = taggedValue[V]{gen, v}
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
	return c.tokens.get(tokenKey{userID, tokenID}, c.gen)
}

// putToken records st, read at generation gen, unless the cache moved on.
func (c *usersCache) putToken(userID, tokenID string, gen uint64, st agenda.TokenState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens.put(tokenKey{userID, tokenID}, st, gen, c.gen)
}

func (c *usersCache) user(id string) (agenda.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.users.get(id, c.gen)
}

// putUser records u, read at generation gen, unless the cache moved on.
func (c *usersCache) putUser(gen uint64, u agenda.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users.put(u.ID, u, gen, c.gen)
}

// invalidate starts a new generation: every entry is stale.
func (c *usersCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.tokens, c.users = nil, nil
}
