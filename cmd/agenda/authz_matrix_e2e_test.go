package main

// Every authenticated endpoint against every kind of caller who must not
// get what the owner or a member gets (issue 9): no token, another user, a
// non-member (who is in another group of the same people), someone invited
// to the group who has not accepted, a member of lower rank, and a member
// who was removed. Each refusal answers its exact status and code and
// leaves no trace; what a caller may do answers as the contract says.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Callers of the matrix.
const (
	noToken = iota
	otherUser
	nonMember
	invitedOnly
	lowerRank
	removedMember
	callerKinds
)

var callerNames = [callerKinds]string{"no token", "other user", "non-member", "invited, not accepted", "lower rank", "removed member"}

// cell is what one kind of caller gets from one endpoint: status 0 skips
// the cell (the endpoint is the caller's own business there).
type cell struct {
	status int
	code   string
	check  func(t *testing.T, r *response)
}

func refused(status int, code string) cell { return cell{status: status, code: code} }

var (
	unauth   = refused(http.StatusUnauthorized, "unauthorized")
	notFound = refused(http.StatusNotFound, "not_found")
	forbid   = refused(http.StatusForbidden, "forbidden")
	conflict = refused(http.StatusConflict, "conflict")
	skip     = cell{}
)

func ok(status int, check ...func(t *testing.T, r *response)) cell {
	c := cell{status: status}
	if len(check) > 0 {
		c.check = check[0]
	}
	return c
}

// row is one endpoint with what each kind of caller gets.
type row struct {
	method, path string
	body         any
	cells        [callerKinds]cell
}

func TestE2EAuthorizationMatrix(t *testing.T) {
	// A day ahead of any clock the test runs by: leaving ends participation
	// only in appointments that have not ended.
	at := func(hour, minute int) time.Time { return at(hour, minute).AddDate(10, 0, 0) }
	g := newGroupPlay(t)
	boss := g.user(t, "boss")
	mgr := g.user(t, "mgr")
	low := g.user(t, "low")
	gone := g.user(t, "gone")
	inv := g.user(t, "inv")
	nm := g.user(t, "nonmember")
	out := g.user(t, "out")
	g.user(t, "spare")

	hq := g.createGroup(t, boss, "HQ", true)
	g.addMember(t, boss, hq, mgr, map[string]any{"user_id": mgr.userID, "rank": 500}, 500)
	g.addMember(t, boss, hq, low, map[string]any{"user_id": low.userID}, 0)
	g.addMember(t, boss, hq, gone, map[string]any{"user_id": gone.userID}, 0)
	g.invite(t, boss, hq, inv, map[string]any{"user_id": inv.userID, "rank": 10}, 10)
	side := g.createGroup(t, boss, "Side", true) // nm is in a group of boss's, not in HQ
	g.addMember(t, boss, side, nm, map[string]any{"user_id": nm.userID}, 0)

	meeting := g.groupAppointment(t, boss, hq, slot("All hands", at(9, 0), at(10, 0), "location", "Atrium"))
	if got := statuses(meeting); !slices.Equal(got, []string{"boss:owner", "gone:auto", "low:auto", "mgr:auto"}) {
		t.Fatalf("meeting participants = %v (nothing may be imposed on the invited)", got)
	}
	private := g.personal(t, boss, slot("Boss's doctor", at(15, 0), at(16, 0)))
	g.write(t, boss, "DELETE", "/api/groups/"+hq.ID+"/members/"+gone.userID, nil, http.StatusNoContent)
	bossNote := g.notifications(t, boss, "")[0].ID

	callers := [callerKinds]*client{nil, out, nm, inv, low, gone}
	hp := "/api/groups/" + hq.ID
	ap := "/api/appointments/" + meeting.ID
	window := fmt.Sprintf("?from=%s&to=%s", rfc(at(0, 0)), rfc(at(23, 0)))
	// The same six for everything about HQ, its members and its meeting: a
	// stranger, a non-member, the invited and the removed learn nothing.
	hidden := func(lower cell) [callerKinds]cell {
		return [callerKinds]cell{unauth, notFound, notFound, notFound, lower, notFound}
	}
	// Endpoints about the caller's own data: only the token matters, and
	// what they show must hold nothing of HQ for those outside it.
	own := func(check func(t *testing.T, kind int, r *response)) [callerKinds]cell {
		var cs [callerKinds]cell
		cs[noToken] = unauth
		for k := otherUser; k < callerKinds; k++ {
			k := k
			cs[k] = ok(http.StatusOK, func(t *testing.T, r *response) {
				if check != nil {
					check(t, k, r)
				}
			})
		}
		return cs
	}
	seesNothingOfHQ := func(t *testing.T, kind int, r *response) {
		if kind == lowerRank {
			return
		}
		for _, s := range []string{hq.ID, "All hands", "Atrium", "HQ"} {
			if strings.Contains(string(r.Body), s) {
				t.Fatalf("%s sees %q: %s", callerNames[kind], s, r.Body)
			}
		}
	}
	invitationsOf := func(t *testing.T, kind int, r *response) {
		var list []map[string]any
		r.JSON(t, &list)
		want := 0
		if kind == invitedOnly {
			want = 1
		}
		if len(list) != want || (want == 1 && (list[0]["group_id"] != hq.ID || list[0]["name"] != "HQ" || list[0]["invited_by"] != boss.userID)) {
			t.Fatalf("group invitations of %s = %s", callerNames[kind], r.Body)
		}
		if want == 1 {
			expectKeys(t, mustRaw(t, list[0]), "group_id", "name", "hierarchical", "rank", "invited_by", "inviter", "invited_at", "version")
		}
	}

	rows := []row{
		{"GET", hp, nil, hidden(ok(http.StatusOK))},
		{"PATCH", hp, map[string]any{"name": "Taken over"}, hidden(forbid)},
		{"DELETE", hp, nil, hidden(forbid)},
		{"POST", hp + "/members", map[string]any{"username": "spare"}, hidden(refused(http.StatusForbidden, "forbidden"))},
		{"GET", hp + "/members/" + mgr.userID, nil, hidden(ok(http.StatusOK))},
		{"PATCH", hp + "/members/" + mgr.userID, map[string]any{"rank": 1}, hidden(forbid)},
		{"DELETE", hp + "/members/" + mgr.userID, nil, hidden(forbid)},
		{"GET", hp + "/members/" + inv.userID, nil, hidden(ok(http.StatusOK, func(t *testing.T, r *response) {
			if m := decodeMember(t, r.Body); m.Status != "invited" || m.Rank != 10 {
				t.Fatalf("the invited person as a member sees them: %+v", m)
			}
		}))},
		{"GET", hp + "/agenda" + window, nil, hidden(ok(http.StatusOK, func(t *testing.T, r *response) {
			if strings.Contains(string(r.Body), inv.userID) || strings.Contains(string(r.Body), gone.userID) {
				t.Fatalf("the group agenda lists someone not (or no longer) a member: %s", r.Body)
			}
		}))},
		{"GET", hp + "/free-slots" + window + "&duration=1h", nil, hidden(ok(http.StatusOK))},
		{"POST", hp + "/appointments", slot("Coup", at(18, 0), at(19, 0)), hidden(ok(http.StatusCreated, func(t *testing.T, r *response) {
			// The lowest rank only invites; it imposes on no one.
			if a := decodeAppointment(t, r); !slices.Equal(statuses(a), []string{"boss:pending", "low:owner", "mgr:pending"}) {
				t.Fatalf("a subordinate's appointment = %v", statuses(a))
			}
		}))},
		// Accepting or declining an invitation to HQ: only the invited have
		// one (their own cell is the business of the invitation tests).
		{"POST", hp + "/accept", nil, [callerKinds]cell{unauth, notFound, notFound, skip, notFound, notFound}},
		{"POST", hp + "/decline", nil, [callerKinds]cell{unauth, notFound, notFound, skip, notFound, notFound}},
		{"GET", ap, nil, hidden(ok(http.StatusOK))},
		{"PATCH", ap, map[string]any{"title": "Mine now"}, hidden(forbid)},
		{"DELETE", ap, nil, hidden(forbid)},
		{"POST", ap + "/accept", nil, hidden(conflict)}, // imposed: nothing to answer
		{"POST", ap + "/decline", nil, hidden(conflict)},
		{"GET", "/api/appointments/" + private.ID, nil, [callerKinds]cell{unauth, notFound, notFound, notFound, notFound, notFound}},
		{"PATCH", "/api/appointments/" + private.ID, map[string]any{"title": "x"}, [callerKinds]cell{unauth, notFound, notFound, notFound, notFound, notFound}},
		{"DELETE", "/api/appointments/" + private.ID, nil, [callerKinds]cell{unauth, notFound, notFound, notFound, notFound, notFound}},
		{"POST", "/api/notifications/" + bossNote + "/read", nil, [callerKinds]cell{unauth, notFound, notFound, notFound, notFound, notFound}},
		{"GET", "/api/groups", nil, own(seesNothingOfHQ)},
		{"GET", "/api/agenda" + window, nil, own(seesNothingOfHQ)},
		{"GET", "/api/invitations", nil, own(seesNothingOfHQ)},
		{"GET", "/api/group-invitations", nil, own(invitationsOf)},
		{"GET", "/api/me", nil, own(nil)},
		{"GET", "/api/users?q=b", nil, own(nil)},
		{"GET", "/api/notifications", nil, own(nil)},
		// Writes on the caller's own data: only the token matters.
		{"PATCH", "/api/me", map[string]any{"display_name": "Someone"}, [callerKinds]cell{unauth}},
		{"PUT", "/api/me/password", map[string]any{"current_password": "x", "new_password": "yyyyyyyy"}, [callerKinds]cell{unauth}},
		{"POST", "/api/appointments", slot("Mine", at(20, 0), at(21, 0)), [callerKinds]cell{unauth}},
		{"POST", "/api/groups", map[string]any{"name": "Mine", "hierarchical": false}, [callerKinds]cell{unauth}},
		{"POST", "/api/notifications/read-all", nil, [callerKinds]cell{unauth}},
		{"POST", "/api/auth/logout", nil, [callerKinds]cell{unauth}},
	}
	for _, rw := range rows {
		for kind, c := range rw.cells {
			if c.status == 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s %s/%s", rw.method, strings.SplitN(rw.path, "?", 2)[0], callerNames[kind]), func(t *testing.T) {
				who := callers[kind]
				if who == nil {
					who = newClient(t, g.n) // no token at all
					g.names[""] = "nobody"
				}
				switch {
				case c.code != "":
					_, r := g.refuse(t, who, rw.method, rw.path, rw.body, c.status, c.code)
					if c.check != nil {
						c.check(t, r)
					}
				case rw.method == "GET":
					r := g.get(t, who, rw.path)
					if r.Status != c.status {
						t.Fatalf("status = %d, want %d; body: %s", r.Status, c.status, r.Body)
					}
					if c.check != nil {
						c.check(t, r)
					}
				default:
					r := g.write(t, who, rw.method, rw.path, rw.body, c.status)
					if c.check != nil {
						c.check(t, r)
					}
				}
			})
		}
	}

	// Nothing of this reached the meeting or the invited person.
	if a := g.appointment(t, boss, meeting.ID); a.Title != "All hands" || !slices.Equal(statuses(a), []string{"boss:owner", "low:auto", "mgr:auto"}) {
		t.Fatalf("meeting after the matrix = %s %v", a.Title, statuses(a))
	}
	g.expectAgenda(t, inv, at(0, 0), at(23, 0))
}

func mustRaw(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
