package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestClusterTokensEndOnEveryNode: token revocation comes from committed
// events, so it holds on every node of a cluster. A password change made
// through one follower ends the user's older tokens on every node; a logout
// on the leader ends that token everywhere while another stays valid. A
// token issued on one node is accepted at once on another, even one that
// has not applied the registration or the password change yet: it waits
// for the position the token was issued at.
func TestClusterTokensEndOnEveryNode(t *testing.T) {
	tc, leader := startCluster(t, 3)
	fs := followersOf(tc.nodes, leader)
	a, b := fs[0], fs[1]

	tess := tc.registerOn(a, "tess")
	for _, n := range tc.nodes { // no waiting: the token carries its position
		tess.as(n).do("GET", "/api/me", nil).expect(t, http.StatusOK)
	}
	second := leader.client()
	second.login("tess", "password-tess")

	tess.as(b).do("PUT", "/api/me/password", map[string]any{"current_password": "password-tess", "new_password": "another secret"}).
		expect(t, http.StatusNoContent)
	for _, n := range tc.nodes {
		for i, c := range []*client{tess, second} {
			tc.eventually(10*time.Second, fmt.Sprintf("token %d refused on %s", i+1, n.id), func() string {
				r, err := c.as(n).send("GET", "/api/me", nil)
				if err != nil {
					return err.Error()
				}
				if r.Status != http.StatusUnauthorized {
					return fmt.Sprintf("status %d", r.Status)
				}
				return ""
			})
		}
	}

	third := a.client()
	third.login("tess", "another secret")
	fourth := b.client()
	fourth.login("tess", "another secret")
	for _, n := range tc.nodes {
		third.as(n).do("GET", "/api/me", nil).expect(t, http.StatusOK)
		fourth.as(n).do("GET", "/api/me", nil).expect(t, http.StatusOK)
	}
	third.as(leader).do("POST", "/api/auth/logout", nil).expect(t, http.StatusNoContent)
	for _, n := range tc.nodes {
		tc.eventually(10*time.Second, "logged-out token refused on "+n.id, func() string {
			r, err := third.as(n).send("GET", "/api/me", nil)
			if err != nil {
				return err.Error()
			}
			if r.Status != http.StatusUnauthorized {
				return fmt.Sprintf("status %d", r.Status)
			}
			return ""
		})
		fourth.as(n).do("GET", "/api/me", nil).expect(t, http.StatusOK)
	}
}
