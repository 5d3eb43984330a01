package main

// The rules of who may do what in groups (issue 3), as a table: each rule
// with a request it refuses and one it allows. A refused request answers
// the exact status and error code and leaves no trace in the event store or
// the read model.

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// authzCall is one request of an authorization rule.
type authzCall struct {
	who    *client
	method string
	path   string
	body   any
	status int
	code   string // refused calls: the error code
	field  string // refused calls: details.field, if the rule names one
	// noTrace: an allowed call that must write nothing (nothing changes).
	noTrace bool
	// check inspects an allowed call's answer.
	check func(t *testing.T, r *response)
}

// authzRule is a rule with a request it refuses and one it allows; before
// runs first, allowedFirst when the refusal follows from the allowed call.
type authzRule struct {
	name         string
	before       func(t *testing.T)
	allowedFirst bool
	refused      authzCall
	allowed      authzCall
}

func TestE2EGroupsAuthz(t *testing.T) {
	g := newGroupPlay(t)
	// A hierarchy: ceo 1000 > vp = vp2 500 > mgr 100 > jr 10 > dev = dev2 = tmp 0.
	ceo := g.user(t, "ceo")
	vp := g.user(t, "vp1")
	vp2 := g.user(t, "vp2")
	mgr := g.user(t, "mgr")
	jr := g.user(t, "jr1")
	dev := g.user(t, "dev")
	dev2 := g.user(t, "dev2")
	tmp := g.user(t, "tmp")
	// A flat group: fc (creator), fm1, fm2, fm3.
	fc := g.user(t, "fc1")
	fm1 := g.user(t, "fm1")
	fm2 := g.user(t, "fm2")
	fm3 := g.user(t, "fm3")
	// People to add, and someone in no group.
	newA := g.user(t, "new_a")
	newB := g.user(t, "new_b")
	newC := g.user(t, "new_c")
	newD := g.user(t, "new_d")
	newE := g.user(t, "new_e")
	g.user(t, "new_f")
	out := g.user(t, "outsider")

	h := g.createGroup(t, ceo, "HQ", true)
	for _, m := range []struct {
		c    *client
		rank int
	}{{vp, 500}, {vp2, 500}, {mgr, 100}, {jr, 10}, {dev, 0}, {dev2, 0}, {tmp, 0}} {
		g.addMember(t, ceo, h, m.c, map[string]any{"user_id": m.c.userID, "rank": m.rank}, m.rank)
	}
	f := g.createGroup(t, fc, "Flat", false)
	for _, c := range []*client{fm1, fm2, fm3} {
		g.addMember(t, fc, f, c, map[string]any{"user_id": c.userID}, 0)
	}
	// A second flat group with a meeting waiting for answers, and a third
	// group to delete.
	f2 := g.createGroup(t, fc, "Flat 2", false)
	g.addMember(t, fc, f2, fm1, map[string]any{"user_id": fm1.userID}, 0)
	waiting := g.groupAppointment(t, fc, f2, slot("Waiting", at(7, 0), at(8, 0)))
	h3 := g.createGroup(t, ceo, "HQ 3", true)
	g.addMember(t, ceo, h3, vp, map[string]any{"user_id": vp.userID, "rank": 500}, 500)

	// Appointments: dev's (everyone above or level with dev is invited),
	// vp's (vp2 invited, everyone below imposed), and a flat one.
	byDev := g.groupAppointment(t, dev, h, slot("Dev's demo", at(9, 0), at(10, 0)))
	if want := []string{"ceo:pending", "dev:owner", "dev2:pending", "jr1:pending", "mgr:pending", "tmp:pending", "vp1:pending", "vp2:pending"}; !slices.Equal(statuses(byDev), want) {
		t.Fatalf("dev's demo participants = %v, want %v", statuses(byDev), want)
	}
	byVP := g.groupAppointment(t, vp, h, slot("VP review", at(11, 0), at(12, 0)))
	if want := []string{"ceo:pending", "dev:auto", "dev2:auto", "jr1:auto", "mgr:auto", "tmp:auto", "vp1:owner", "vp2:pending"}; !slices.Equal(statuses(byVP), want) {
		t.Fatalf("vp review participants = %v, want %v", statuses(byVP), want)
	}
	flatMeet := g.groupAppointment(t, fc, f, slot("Flat meeting", at(13, 0), at(14, 0)))
	// The ceo is busy when dev invites again (below); dev is busy at 16:00.
	g.personal(t, ceo, slot("CEO busy", at(15, 0), at(16, 0)))
	g.personal(t, dev, slot("Dev busy", at(16, 0), at(17, 0)))

	hp, fp := "/api/groups/"+h.ID, "/api/groups/"+f.ID
	ap := func(a apiAppointment, verb string) string { return "/api/appointments/" + a.ID + "/" + verb }
	memberRank := func(rank int) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			if m := decodeMember(t, r.Body); m.Rank != rank {
				t.Fatalf("member rank = %d, want %d", m.Rank, rank)
			}
		}
	}
	answered := func(status, apptStatus string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			var p struct {
				Status      string `json:"status"`
				Appointment struct {
					Status string `json:"status"`
				} `json:"appointment"`
			}
			r.JSON(t, &p)
			if p.Status != status || p.Appointment.Status != apptStatus {
				t.Fatalf("answer = %s, want status %s and appointment %s", r.Body, status, apptStatus)
			}
		}
	}

	rules := []authzRule{
		{
			name: "a subordinate's group appointment invites superiors: their time does not block it, the organiser's does",
			refused: authzCall{who: dev, method: "POST", path: hp + "/appointments", body: slot("Over my own", at(16, 30), at(17, 30)),
				status: 409, code: "schedule_conflict"},
			allowed: authzCall{who: dev, method: "POST", path: hp + "/appointments", body: slot("Over the CEO", at(15, 0), at(16, 0)),
				status: 201, check: func(t *testing.T, r *response) {
					a := decodeAppointment(t, r)
					want := []string{"ceo:pending", "dev:owner", "dev2:pending", "jr1:pending", "mgr:pending", "tmp:pending", "vp1:pending", "vp2:pending"}
					if a.Status != "confirmed" || !slices.Equal(statuses(a), want) {
						t.Fatalf("appointment = %s %v, want confirmed %v", a.Status, statuses(a), want)
					}
				}},
		},
		{
			name: "re-ranking to a rank at or above one's own is forbidden",
			refused: authzCall{who: vp, method: "PATCH", path: hp + "/members/" + jr.userID, body: map[string]any{"rank": 500},
				status: 403, code: "forbidden", field: "rank"},
			allowed: authzCall{who: vp, method: "PATCH", path: hp + "/members/" + jr.userID, body: map[string]any{"rank": 499},
				status: 200, check: memberRank(499)},
		},
		{
			name:    "re-ranking oneself is forbidden",
			refused: authzCall{who: vp, method: "PATCH", path: hp + "/members/" + vp.userID, body: map[string]any{"rank": 400}, status: 403, code: "forbidden"},
			allowed: authzCall{who: ceo, method: "PATCH", path: hp + "/members/" + jr.userID, body: map[string]any{"rank": 20}, status: 200, check: memberRank(20)},
		},
		{
			name:    "re-ranking someone of equal rank is forbidden",
			refused: authzCall{who: vp, method: "PATCH", path: hp + "/members/" + vp2.userID, body: map[string]any{"rank": 100}, status: 403, code: "forbidden"},
			allowed: authzCall{who: vp, method: "PATCH", path: hp + "/members/" + jr.userID, body: map[string]any{"rank": 10}, status: 200, check: memberRank(10)},
		},
		{
			name:    "re-ranking a superior is forbidden",
			refused: authzCall{who: mgr, method: "PATCH", path: hp + "/members/" + vp.userID, body: map[string]any{"rank": 50}, status: 403, code: "forbidden"},
			allowed: authzCall{who: mgr, method: "PATCH", path: hp + "/members/" + jr.userID, body: map[string]any{"rank": 11}, status: 200, check: memberRank(11)},
		},
		{
			name:    "re-ranking someone not in the group is not found; the same rank writes nothing",
			refused: authzCall{who: ceo, method: "PATCH", path: hp + "/members/" + out.userID, body: map[string]any{"rank": 11}, status: 404, code: "not_found"},
			allowed: authzCall{who: ceo, method: "PATCH", path: hp + "/members/" + jr.userID, body: map[string]any{"rank": 11}, status: 200, noTrace: true, check: memberRank(11)},
		},
		{
			name:    "re-ranking needs a rank",
			refused: authzCall{who: ceo, method: "PATCH", path: hp + "/members/" + jr.userID, body: map[string]any{}, status: 400, code: "invalid", field: "rank"},
			allowed: authzCall{who: ceo, method: "PATCH", path: hp + "/members/" + jr.userID, body: map[string]any{"rank": 10}, status: 200, check: memberRank(10)},
		},
		{
			name: "adding with a rank at or above one's own is forbidden",
			refused: authzCall{who: mgr, method: "POST", path: hp + "/members", body: map[string]any{"user_id": newA.userID, "rank": 100},
				status: 403, code: "forbidden", field: "rank"},
			allowed: authzCall{who: mgr, method: "POST", path: hp + "/members", body: map[string]any{"user_id": newA.userID, "rank": 99},
				status: 201, check: memberRank(99)},
		},
		{
			name:    "a member of the lowest rank cannot add anyone",
			refused: authzCall{who: dev, method: "POST", path: hp + "/members", body: map[string]any{"user_id": newC.userID}, status: 403, code: "forbidden", field: "rank"},
			allowed: authzCall{who: jr, method: "POST", path: hp + "/members", body: map[string]any{"user_id": newC.userID}, status: 201, check: memberRank(0)},
		},
		{
			name:    "a rank above the range is invalid",
			refused: authzCall{who: ceo, method: "POST", path: hp + "/members", body: map[string]any{"user_id": newB.userID, "rank": 1000}, status: 400, code: "invalid", field: "rank"},
			allowed: authzCall{who: ceo, method: "POST", path: hp + "/members", body: map[string]any{"user_id": newB.userID, "rank": 999}, status: 201, check: memberRank(999)},
		},
		{
			name:    "a rank below the range is invalid",
			refused: authzCall{who: ceo, method: "PATCH", path: hp + "/members/" + newB.userID, body: map[string]any{"rank": -1}, status: 400, code: "invalid", field: "rank"},
			allowed: authzCall{who: ceo, method: "PATCH", path: hp + "/members/" + newB.userID, body: map[string]any{"rank": 0}, status: 200, check: memberRank(0)},
		},
		{
			name:    "a flat group takes no rank",
			refused: authzCall{who: fc, method: "POST", path: fp + "/members", body: map[string]any{"user_id": newD.userID, "rank": 5}, status: 400, code: "invalid", field: "rank"},
			allowed: authzCall{who: fc, method: "POST", path: fp + "/members", body: map[string]any{"user_id": newD.userID, "rank": 0}, status: 201, check: memberRank(0)},
		},
		{
			name:    "a flat group's members are not re-ranked",
			refused: authzCall{who: fc, method: "PATCH", path: fp + "/members/" + fm1.userID, body: map[string]any{"rank": 1}, status: 400, code: "invalid", field: "rank"},
			allowed: authzCall{who: fm1, method: "POST", path: fp + "/members", body: map[string]any{"username": "new_e"}, status: 201, check: memberRank(0)},
		},
		{
			name:    "adding a member twice is a conflict",
			refused: authzCall{who: fm2, method: "POST", path: fp + "/members", body: map[string]any{"user_id": newE.userID}, status: 409, code: "conflict"},
			allowed: authzCall{who: fm2, method: "GET", path: fp, status: 200, check: func(t *testing.T, r *response) {
				want := []string{"fc1:0", "fm1:0", "fm2:0", "fm3:0", "new_d:0", "new_e:0"}
				if got := ranks(decodeGroup(t, r.Body, true).Members); !slices.Equal(got, want) {
					t.Fatalf("members = %v, want %v", got, want)
				}
			}},
		},
		{
			name:    "adding an unknown user ID is not found",
			refused: authzCall{who: ceo, method: "POST", path: hp + "/members", body: map[string]any{"user_id": uuid.NewString()}, status: 404, code: "not_found", field: "user_id"},
			allowed: authzCall{who: ceo, method: "POST", path: hp + "/members", body: map[string]any{"username": "new_f"}, status: 201, check: memberRank(0)},
		},
		{
			name:    "adding an unknown username is not found",
			refused: authzCall{who: ceo, method: "POST", path: groupPath(h3) + "/members", body: map[string]any{"username": "nobody_here"}, status: 404, code: "not_found", field: "username"},
			allowed: authzCall{who: ceo, method: "POST", path: groupPath(h3) + "/members", body: map[string]any{"username": "mgr"}, status: 201, check: memberRank(0)},
		},
		{
			name:    "adding takes exactly one of user_id and username",
			refused: authzCall{who: ceo, method: "POST", path: groupPath(h3) + "/members", body: map[string]any{"user_id": dev.userID, "username": "dev"}, status: 400, code: "invalid", field: "user_id"},
			allowed: authzCall{who: ceo, method: "POST", path: groupPath(h3) + "/members", body: map[string]any{"user_id": dev.userID}, status: 201, check: memberRank(0)},
		},
		{
			name:         "accepting twice is a conflict",
			allowedFirst: true,
			allowed:      authzCall{who: vp, method: "POST", path: ap(byDev, "accept"), status: 200, check: answered("accepted", "confirmed")},
			refused:      authzCall{who: vp, method: "POST", path: ap(byDev, "accept"), status: 409, code: "conflict"},
		},
		{
			name:         "declining twice is a conflict",
			allowedFirst: true,
			allowed:      authzCall{who: mgr, method: "POST", path: ap(byDev, "decline"), status: 200, check: answered("declined", "confirmed")},
			refused:      authzCall{who: mgr, method: "POST", path: ap(byDev, "decline"), status: 409, code: "conflict"},
		},
		{
			name:         "a declined invitation of a hierarchy can still be accepted",
			allowedFirst: true,
			allowed:      authzCall{who: mgr, method: "POST", path: ap(byDev, "accept"), status: 200, check: answered("accepted", "confirmed")},
			refused:      authzCall{who: mgr, method: "POST", path: ap(byDev, "accept"), status: 409, code: "conflict"},
		},
		{
			name:         "answering a cancelled appointment is a conflict",
			allowedFirst: true,
			allowed:      authzCall{who: fm1, method: "POST", path: ap(flatMeet, "decline"), status: 200, check: answered("declined", "cancelled")},
			refused:      authzCall{who: fm2, method: "POST", path: ap(flatMeet, "decline"), status: 409, code: "conflict"},
		},
		{
			name:    "accepting a cancelled appointment is a conflict",
			refused: authzCall{who: fm3, method: "POST", path: ap(flatMeet, "accept"), status: 409, code: "conflict"},
			allowed: authzCall{who: fm3, method: "GET", path: "/api/appointments/" + flatMeet.ID, status: 200, check: func(t *testing.T, r *response) {
				if a := decodeAppointment(t, r); a.Status != "cancelled" || a.MyStatus != "pending" {
					t.Fatalf("flat meeting as fm3: %s/%s, want cancelled/pending", a.Status, a.MyStatus)
				}
			}},
		},
		{
			name:    "accepting an invitation addressed to someone else is not found",
			refused: authzCall{who: newA, method: "POST", path: ap(byDev, "accept"), status: 404, code: "not_found"},
			allowed: authzCall{who: vp2, method: "POST", path: ap(byDev, "accept"), status: 200, check: answered("accepted", "confirmed")},
		},
		{
			name:    "an outsider accepting is not found",
			refused: authzCall{who: out, method: "POST", path: ap(byVP, "accept"), status: 404, code: "not_found"},
			allowed: authzCall{who: ceo, method: "POST", path: ap(byVP, "accept"), status: 200, check: answered("accepted", "confirmed")},
		},
		{
			name:    "the organiser cannot decline",
			refused: authzCall{who: dev, method: "POST", path: ap(byDev, "decline"), status: 409, code: "conflict"},
			allowed: authzCall{who: dev2, method: "POST", path: ap(byDev, "decline"), status: 200, check: answered("declined", "confirmed")},
		},
		{
			name:    "the organiser cannot accept",
			refused: authzCall{who: vp, method: "POST", path: ap(byVP, "accept"), status: 409, code: "conflict"},
			allowed: authzCall{who: tmp, method: "POST", path: ap(byDev, "accept"), status: 200, check: answered("accepted", "confirmed")},
		},
		{
			name:    "an imposed member cannot decline",
			refused: authzCall{who: mgr, method: "POST", path: ap(byVP, "decline"), status: 409, code: "conflict"},
			allowed: authzCall{who: vp2, method: "POST", path: ap(byVP, "decline"), status: 200, check: answered("declined", "confirmed")},
		},
		{
			name:    "an imposed member cannot accept",
			refused: authzCall{who: jr, method: "POST", path: ap(byVP, "accept"), status: 409, code: "conflict"},
			allowed: authzCall{who: jr, method: "POST", path: ap(byDev, "accept"), status: 200, check: answered("accepted", "confirmed")},
		},
		{
			name:    "answers take no body",
			refused: authzCall{who: ceo, method: "POST", path: ap(byDev, "accept"), body: map[string]any{"status": "accepted"}, status: 400, code: "invalid"},
			allowed: authzCall{who: ceo, method: "POST", path: ap(byDev, "accept"), body: map[string]any{}, status: 200, check: answered("accepted", "confirmed")},
		},
		{
			name: "a group with appointments waiting for answers cannot be deleted",
			refused: authzCall{who: fc, method: "DELETE", path: "/api/groups/" + f2.ID, status: 409, code: "conflict",
				check: func(t *testing.T, r *response) {
					if e := expectErrorShape(t, r); e.Details["pending_appointments"] != float64(1) {
						t.Fatalf("details = %v, want pending_appointments 1", e.Details)
					}
				}},
			allowed: authzCall{who: fc, method: "DELETE", path: "/api/appointments/" + waiting.ID, status: 204},
		},
		{
			name:         "a group whose waiting appointments are cancelled can be deleted",
			allowedFirst: true,
			allowed:      authzCall{who: fc, method: "DELETE", path: "/api/groups/" + f2.ID, status: 204},
			refused:      authzCall{who: fc, method: "DELETE", path: "/api/groups/" + f2.ID, status: 404, code: "not_found"},
		},
		{
			name:    "only the creator changes a group",
			refused: authzCall{who: vp, method: "PATCH", path: hp, body: map[string]any{"name": "VP's HQ"}, status: 403, code: "forbidden"},
			allowed: authzCall{who: ceo, method: "PATCH", path: hp, body: map[string]any{"name": "Headquarters"}, status: 200},
		},
		{
			name:    "only the creator changes a flat group",
			refused: authzCall{who: fm1, method: "PATCH", path: fp, body: map[string]any{"description": "fm1 was here"}, status: 403, code: "forbidden"},
			allowed: authzCall{who: fc, method: "PATCH", path: fp, body: map[string]any{"description": "ours"}, status: 200},
		},
		{
			name:    "only the creator deletes a group",
			refused: authzCall{who: vp, method: "DELETE", path: groupPath(h3), status: 403, code: "forbidden"},
			allowed: authzCall{who: ceo, method: "DELETE", path: groupPath(h3), status: 204},
		},
		{
			name:    "removing a superior is forbidden",
			refused: authzCall{who: mgr, method: "DELETE", path: hp + "/members/" + vp.userID, status: 403, code: "forbidden"},
			allowed: authzCall{who: vp, method: "DELETE", path: hp + "/members/" + tmp.userID, status: 204},
		},
		{
			name:    "removing someone of equal rank is forbidden",
			refused: authzCall{who: vp, method: "DELETE", path: hp + "/members/" + vp2.userID, status: 403, code: "forbidden"},
			allowed: authzCall{who: mgr, method: "DELETE", path: hp + "/members/" + newC.userID, status: 204},
		},
		{
			name:    "removing someone not in the group is not found",
			refused: authzCall{who: ceo, method: "DELETE", path: hp + "/members/" + out.userID, status: 404, code: "not_found"},
			allowed: authzCall{who: ceo, method: "DELETE", path: hp + "/members/" + newB.userID, status: 204},
		},
		{
			name:    "in a flat group only the creator removes others",
			refused: authzCall{who: fm1, method: "DELETE", path: fp + "/members/" + fm2.userID, status: 403, code: "forbidden"},
			allowed: authzCall{who: fc, method: "DELETE", path: fp + "/members/" + fm3.userID, status: 204},
		},
		{
			name:         "a member of the lowest rank may always leave",
			allowedFirst: true,
			allowed:      authzCall{who: dev2, method: "DELETE", path: hp + "/members/" + dev2.userID, status: 204},
			refused:      authzCall{who: dev2, method: "DELETE", path: hp + "/members/" + dev2.userID, status: 404, code: "not_found"},
		},
		{
			name:         "a member of a flat group may always leave",
			allowedFirst: true,
			allowed:      authzCall{who: fm2, method: "DELETE", path: fp + "/members/" + fm2.userID, status: 204},
			refused:      authzCall{who: fm2, method: "GET", path: fp, status: 404, code: "not_found"},
		},
		{
			name:         "the creator may leave too; the group lives on",
			allowedFirst: true,
			allowed:      authzCall{who: fc, method: "DELETE", path: fp + "/members/" + fc.userID, status: 204},
			refused:      authzCall{who: fc, method: "PATCH", path: fp, body: map[string]any{"name": "Mine again"}, status: 404, code: "not_found"},
		},
		{
			name:    "a member who left can no longer act in the group",
			refused: authzCall{who: fm2, method: "POST", path: fp + "/members", body: map[string]any{"username": "fm2"}, status: 404, code: "not_found"},
			allowed: authzCall{who: fm1, method: "GET", path: fp, status: 200, check: func(t *testing.T, r *response) {
				want := []string{"fm1:0", "new_d:0", "new_e:0"}
				if got := ranks(decodeGroup(t, r.Body, true).Members); !slices.Equal(got, want) {
					t.Fatalf("members = %v, want %v", got, want)
				}
			}},
		},
	}
	for _, rule := range rules {
		t.Run(rule.name, func(t *testing.T) {
			if rule.before != nil {
				rule.before(t)
			}
			if rule.allowedFirst {
				g.authzAllowed(t, rule.allowed)
				g.authzRefused(t, rule.refused)
			} else {
				g.authzRefused(t, rule.refused)
				g.authzAllowed(t, rule.allowed)
			}
		})
	}
}

func groupPath(grp apiGroup) string { return "/api/groups/" + grp.ID }

// authzRefused sends a refused call: exact status, code and field, no trace.
func (g *groupPlay) authzRefused(t *testing.T, c authzCall) {
	t.Helper()
	e, r := g.refuse(t, c.who, c.method, c.path, c.body, c.status, c.code)
	if c.field != "" {
		expectField(t, e, c.field)
	}
	if c.check != nil {
		c.check(t, r)
	}
}

// authzAllowed sends an allowed call and checks its status (and answer).
func (g *groupPlay) authzAllowed(t *testing.T, c authzCall) {
	t.Helper()
	before := traceOf(t, g.n)
	var r *response
	if c.method == "GET" {
		r = g.get(t, c.who, c.path)
		if r.Status != c.status {
			t.Fatalf("GET %s as %s: %d, want %d; body: %s", c.path, g.who(c.who), r.Status, c.status, r.Body)
		}
	} else {
		r = g.write(t, c.who, c.method, c.path, c.body, c.status)
	}
	if c.noTrace || c.method == "GET" {
		expectNoTrace(t, g.n, before)
	} else if after := traceOf(t, g.n); after.Head <= before.Head {
		t.Fatalf("%s %s as %s was allowed but wrote nothing (head %d)", c.method, c.path, g.who(c.who), after.Head)
	}
	if c.status == http.StatusNoContent && len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	if c.check != nil {
		c.check(t, r)
	}
}
