package main

import (
	"net/http"
	"slices"
	"testing"
)

// TestE2EInvitationEndsWithItsInvitersAuthority: what an attacker's review
// found. A manager (rank 50) invites a second account of theirs at rank
// 49, is then removed, or demoted to rank 1, and the account accepts,
// ranking above the manager's old subordinates (reading their appointments,
// imposing on them) with no one entitled to put it there. An invitation
// now stands on its inviter's authority: it is withdrawn when they leave or
// are removed, and when they are given a rank it is not below.
func TestE2EInvitationEndsWithItsInvitersAuthority(t *testing.T) {
	n := startNode(t, testConfig(t, t.TempDir()))
	boss, mgr, sub := registerUser(t, n, "boss"), registerUser(t, n, "mgr"), registerUser(t, n, "sub")
	pup, pup2, low := registerUser(t, n, "pup"), registerUser(t, n, "pup2"), registerUser(t, n, "low")
	invite := func(by, who *client, gid string, rank int) {
		t.Helper()
		by.withT(t).do("POST", "/api/groups/"+gid+"/members", map[string]any{"user_id": who.userID, "rank": rank}).expect(t, http.StatusCreated)
	}
	pending := func(who *client) int {
		t.Helper()
		var invs []struct {
			GroupID string `json:"group_id"`
		}
		who.withT(t).do("GET", "/api/group-invitations", nil).expect(t, http.StatusOK).JSON(t, &invs)
		return len(invs)
	}

	t.Run("removed", func(t *testing.T) {
		g := createGroup(t, boss, "Removed", true)
		joinGroup(t, boss, mgr, g, 50)
		joinGroup(t, boss, sub, g, 10)
		invite(mgr, pup, g, 49)
		boss.withT(t).do("DELETE", "/api/groups/"+g+"/members/"+mgr.userID, nil).expect(t, http.StatusNoContent)
		if k := pending(pup); k != 0 {
			t.Errorf("pup still has %d group invitations after their inviter was removed", k)
		}
		pup.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusNotFound)
		var got struct {
			Members []struct {
				UserID string `json:"user_id"`
			} `json:"members"`
		}
		boss.withT(t).do("GET", "/api/groups/"+g, nil).expect(t, http.StatusOK).JSON(t, &got)
		for _, m := range got.Members {
			if m.UserID == pup.userID {
				t.Errorf("pup is still listed in the group: %+v", got.Members)
			}
		}
	})

	t.Run("demoted", func(t *testing.T) {
		g := createGroup(t, boss, "Demoted", true)
		joinGroup(t, boss, mgr, g, 50)
		invite(mgr, pup, g, 49)
		invite(mgr, pup2, g, 0)
		boss.withT(t).do("PATCH", "/api/groups/"+g+"/members/"+mgr.userID, map[string]any{"rank": 1}).expect(t, http.StatusOK)
		pup.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusNotFound)
		// An invitation at a rank the inviter may still give stands.
		var m struct {
			Rank   int    `json:"rank"`
			Status string `json:"status"`
		}
		pup2.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusOK).JSON(t, &m)
		if m.Rank != 0 || m.Status != "active" {
			t.Errorf("pup2 joined as %+v, want active at rank 0", m)
		}
	})

	t.Run("left a flat group", func(t *testing.T) {
		g := createGroup(t, boss, "Flat", false)
		joinGroup(t, boss, mgr, g, 0)
		invite(mgr, low, g, 0)
		invite(boss, pup, g, 0)
		mgr.withT(t).do("DELETE", "/api/groups/"+g+"/members/"+mgr.userID, nil).expect(t, http.StatusNoContent)
		low.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusNotFound)
		// Another member's invitation is not theirs to take along.
		pup.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusOK)
	})

	// The second review of the rule: an invitation re-ranked rests on the
	// one who re-ranked it, not on its inviter.
	for _, c := range []struct {
		then   string
		method string
		body   any
		status int
	}{
		{"removed", "DELETE", nil, http.StatusNoContent},
		{"demoted", "PATCH", map[string]any{"rank": 2}, http.StatusOK},
	} {
		t.Run("re-ranked by a manager who is then "+c.then, func(t *testing.T) {
			g := createGroup(t, boss, "Reranked "+c.then, true)
			joinGroup(t, boss, mgr, g, 50)
			joinGroup(t, mgr, sub, g, 1)
			invite(sub, pup, g, 0)
			mgr.withT(t).do("PATCH", "/api/groups/"+g+"/members/"+pup.userID, map[string]any{"rank": 49}).expect(t, http.StatusOK)
			boss.withT(t).do(c.method, "/api/groups/"+g+"/members/"+mgr.userID, c.body).expect(t, c.status)
			pup.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusNotFound)
		})
	}
	t.Run("promoting the inviter of an invitation another re-ranked", func(t *testing.T) {
		g := createGroup(t, boss, "Promoted", true)
		joinGroup(t, boss, low, g, 20)
		invite(low, pup, g, 0)
		boss.withT(t).do("PATCH", "/api/groups/"+g+"/members/"+pup.userID, map[string]any{"rank": 40}).expect(t, http.StatusOK)
		boss.withT(t).do("PATCH", "/api/groups/"+g+"/members/"+low.userID, map[string]any{"rank": 30}).expect(t, http.StatusOK)
		boss.withT(t).do("PATCH", "/api/groups/"+g+"/members/"+low.userID, map[string]any{"rank": 10}).expect(t, http.StatusOK)
		pup.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusOK)
	})

	// A creator's rights, their invitations' authority among them, pass to
	// the heir.
	t.Run("a creator who leaves", func(t *testing.T) {
		g := createGroup(t, boss, "Heir", true)
		joinGroup(t, boss, mgr, g, 50)
		invite(boss, sub, g, 20)
		invite(boss, pup2, g, 800)
		boss.withT(t).do("DELETE", "/api/groups/"+g+"/members/"+boss.userID, nil).expect(t, http.StatusNoContent)
		sub.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusOK)
		// The heir, who answers for it now, hears of the answer.
		type heard struct {
			Type    string         `json:"type"`
			Payload map[string]any `json:"payload"`
		}
		var notes []heard
		mgr.withT(t).do("GET", "/api/notifications?limit=500", nil).expect(t, http.StatusOK).JSON(t, &notes)
		if !slices.ContainsFunc(notes, func(n heard) bool {
			return n.Type == "member_added" && n.Payload["group_id"] == g && n.Payload["user_id"] == sub.userID
		}) {
			t.Errorf("the heir was not told that sub accepted the departed creator's invitation: %+v", notes)
		}
		// The creator comes back below the heir and is promoted: the
		// invitation they made as creator is the heir's now, and stands.
		invite(mgr, boss, g, 5)
		boss.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusOK)
		mgr.withT(t).do("PATCH", "/api/groups/"+g+"/members/"+boss.userID, map[string]any{"rank": 10}).expect(t, http.StatusOK)
		mgr.withT(t).do("PATCH", "/api/groups/"+g+"/members/"+boss.userID, map[string]any{"rank": 4}).expect(t, http.StatusOK)
		pup2.withT(t).do("POST", "/api/groups/"+g+"/accept", nil).expect(t, http.StatusOK)
	})
}
