package commands

import (
	"golang.org/x/crypto/bcrypt"
)

func (h *Handlers) hash(password string) ([]byte, error) {
	cost := h.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	return bcrypt.GenerateFromPassword([]byte(password), cost)
}

// dummyHash is a hash of the configured cost to compare against when the
// user does not exist.
func (h *Handlers) dummyHash() []byte {
	h.dummyOnce.Do(func() {
		h.dummy, _ = h.hash("not a real password")
	})
	return h.dummy
}
