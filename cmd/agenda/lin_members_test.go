package main

// Membership by consent in the linearizability harness. lin4 creates one
// hierarchical group a slot before the load; during it, lin4 invites lin5
// to them and removes lin5 from them (a member or an invitation), and lin5
// accepts, declines or leaves, while both read the group with
// consistency=strong. Each group's membership of lin5 is a partition of
// its own ("m/2"): an operation names it in linInput.ID as
// "<group ID>/<lin5's ID>".
//
// The specification, from API.md ("Groups") and the README (versions):
//
//   - invited, then active once accepted; declining, leaving or being
//     removed ends the membership (or the invitation);
//   - inviting someone invited or a member is 409; accepting or declining
//     without an invitation is 404, and so is leaving for someone not a
//     member (an invitation is declined, not left), and removing someone
//     neither;
//   - a membership's version counts its changes, and a new one counts on
//     from where the last ended: an invitation is one more than the last
//     version lin5 had in the group, an acceptance one more again; an end
//     keeps the version it ended at, so an old ETag never matches;
//   - If-Match on an answer (the invitation's version) or a removal (the
//     membership's) refuses a stale one with 412, after the 404 checks;
//   - lin4's read lists lin5 with their status and version, or not at all;
//     lin5's is 404 unless lin5 is a member (an invitee sees nothing of
//     the group).

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/agendahq/agenda/events"
)

// membership is lin5's membership of one group as the model knows it:
// Status "" (none), "invited" or "active", and its version (the last one
// it had, once ended).
type membership struct {
	Status  string
	Version int64
}

// memberStep is the model's step for membership kinds.
func memberStep(st slotState, in linInput, out linOutput) (bool, slotState) {
	m := st.Member
	matches := in.IfMatch == 0 || in.IfMatch == m.Version
	invited, active := m.Status == "invited", m.Status == "active"
	with := func(next membership) slotState {
		after := st
		after.Member = next
		return after
	}
	ended := with(membership{Version: m.Version})
	switch in.Kind {
	case linInvite:
		next := membership{Status: "invited", Version: m.Version + 1}
		switch out.Outcome {
		case outOK:
			return m.Status == "" && out.Status == next.Status && out.Version == next.Version, with(next)
		case outCommitted:
			return m.Status == "", with(next)
		case outConflict:
			return m.Status != "", st
		}
	case linJoin:
		next := membership{Status: "active", Version: m.Version + 1}
		switch out.Outcome {
		case outOK:
			return invited && matches && out.Status == next.Status && out.Version == next.Version, with(next)
		case outCommitted:
			return invited && matches, with(next)
		case outPrecondition:
			return invited && !matches, st
		case outNotFound:
			return !invited, st
		}
	case linRefuse, linLeave, linRemove:
		holds := invited // what each may end: an invitation,
		switch in.Kind {
		case linLeave:
			holds = active // a membership,
		case linRemove:
			holds = invited || active // or either
		}
		switch out.Outcome {
		case outOK, outCommitted:
			return holds && matches, ended
		case outPrecondition:
			return holds && !matches, st
		case outNotFound:
			return !holds, st
		}
	case linMemberRead:
		switch {
		case out.Outcome == outOK && in.Sub == 0:
			return out.Status == m.Status && (m.Status == "" || out.Version == m.Version), st
		case out.Outcome == outOK:
			return active && out.Status == m.Status && out.Version == m.Version, st
		case out.Outcome == outNotFound:
			return in.Sub == 1 && !active, st
		}
	}
	return false, st
}

// memberStepAfter is memberStep's transition alone, for the store's facts:
// the state after a committed event of type typ.
func memberStepAfter(m membership, typ string) membership {
	switch typ {
	case "group.member_invited":
		return membership{Status: "invited", Version: m.Version + 1}
	case "group.invitation_accepted":
		return membership{Status: "active", Version: m.Version + 1}
	}
	return membership{Version: m.Version} // declined or removed
}

// memberEvent is one committed change of a membership.
type memberEvent struct {
	Position int64
	Type     string
	// State is the membership after it.
	State membership
}

// memberEventTypes are the events that change a membership.
var memberEventTypes = map[string]bool{
	"group.member_invited": true, "group.invitation_accepted": true,
	"group.invitation_declined": true, "group.member_removed": true,
}

// addMemberEvent records e in f if it changes a membership, and returns
// the membership's key ("<group ID>/<user ID>") and the change.
func (f *storeFacts) addMemberEvent(stream, typ string, pos int64, data []byte) (string, *memberEvent) {
	gid, ok := strings.CutPrefix(stream, "group-")
	if !ok || !memberEventTypes[typ] {
		return "", nil
	}
	var d struct {
		UserID string `json:"user_id"`
	}
	json.Unmarshal(data, &d)
	key := gid + "/" + d.UserID
	s := f.members[key]
	var prev membership
	if len(s) > 0 {
		prev = s[len(s)-1].State
	}
	ev := memberEvent{Position: pos, Type: typ, State: memberStepAfter(prev, typ)}
	f.members[key] = append(s, ev)
	return key, &ev
}

// memberAt returns the membership key held after every event at or before
// position pos.
func (f *storeFacts) memberAt(key string, pos int64) membership {
	var m membership
	for _, e := range f.members[key] {
		if e.Position > pos {
			break
		}
		m = e.State
	}
	return m
}

// memberFits reports whether pred holds for the membership at some position
// in [lo, hi).
func (f *storeFacts) memberFits(key string, lo, hi int64, pred func(membership) bool) bool {
	if pred(f.memberAt(key, lo)) {
		return true
	}
	for _, e := range f.members[key] {
		if e.Position > lo && e.Position < hi && pred(e.State) {
			return true
		}
	}
	return false
}

// memberEventOf is the event each membership write commits.
var memberEventOf = map[linKind]string{
	linInvite: "group.member_invited", linJoin: "group.invitation_accepted",
	linRefuse: "group.invitation_declined", linLeave: "group.member_removed", linRemove: "group.member_removed",
}

// checkMemberAnswer holds a successful membership write to its own
// committed event: the membership it changed, the event's type, and, for
// an answer that shows the membership, its status, version and ETag.
func checkMemberAnswer(r linRecord, eff *reqEffect, bad func(linRecord, string, ...any)) {
	switch want := memberEventOf[r.In.Kind]; {
	case eff.Member != r.In.ID:
		bad(r, "the write changed membership %q, not %q", eff.Member, r.In.ID)
	case eff.MemberEvent.Type != want:
		bad(r, "%s committed %s", r.In.Kind, eff.MemberEvent.Type)
	case r.In.Kind != linInvite && r.In.Kind != linJoin:
	case r.AStatus != eff.MemberEvent.State.Status || r.Version != eff.MemberEvent.State.Version:
		bad(r, "answer shows %s at version %d, but the write's own event made it %s at %d",
			r.AStatus, r.Version, eff.MemberEvent.State.Status, eff.MemberEvent.State.Version)
	case r.ETag != r.Version:
		bad(r, "answer's ETag is %d, but the membership's version %d", r.ETag, r.Version)
	}
}

// checkStaleMember holds a membership refusal or strong read to the states
// lin5's membership was in while it was in flight, [lo, hi): see
// checkStaleAnswers.
func checkStaleMember(r linRecord, f *storeFacts, lo, hi int64, bad func(linRecord, string, ...any)) {
	fits := func(pred func(membership) bool) bool { return f.memberFits(r.In.ID, lo, hi, pred) }
	switch {
	case r.Status == http.StatusConflict:
		if !fits(func(m membership) bool { return m.Status != "" }) {
			bad(r, "409, but lin5 was neither invited nor a member at any position in [%d, %d)", lo, hi)
		}
	case r.Status == http.StatusNotFound && r.In.Kind != linMemberRead:
		if !fits(func(m membership) bool { return !memberHolds(r.In.Kind, m) }) {
			bad(r, "404, but lin5's membership was there to %s at every position in [%d, %d)", r.In.Kind, lo, hi)
		}
	case r.Status == http.StatusPreconditionFailed:
		if !fits(func(m membership) bool { return memberHolds(r.In.Kind, m) && m.Version != r.In.IfMatch }) {
			bad(r, "412, but the membership was at version %d (or gone) at every position in [%d, %d)", r.In.IfMatch, lo, hi)
		}
	case r.In.Kind == linMemberRead && r.Status == http.StatusOK:
		if !fits(func(m membership) bool { return m.Status == r.AStatus && (m.Status == "" || m.Version == r.Version) }) {
			bad(r, "strong read shows lin5 %q at version %d, a state the membership was not in at any position in [%d, %d)",
				r.AStatus, r.Version, lo, hi)
		}
	}
}

// memberHolds reports whether m is what a write of kind k acts on.
func memberHolds(k linKind, m membership) bool {
	switch k {
	case linJoin, linRefuse:
		return m.Status == "invited"
	case linLeave:
		return m.Status == "active"
	}
	return m.Status != ""
}

// memberOp picks lin4's (sub 0) or lin5's (sub 1) next operation on lin5's
// membership key of the slot's group, mostly one that fits what the clients
// last saw of it (k.status, k.version), sometimes any: the clients' view is
// often stale under faults anyway, and refusals are checked too.
func memberOp(rng *rand.Rand, sub, slot int, key string, k linKnown) linInput {
	in := linInput{Slot: fmt.Sprintf("m/%d", slot), Sub: sub, ID: key, Kind: linMemberRead}
	any := rng.Intn(5) == 0
	p := rng.Intn(100)
	switch {
	case sub == 0 && (any || k.status == "") && p < 60:
		in.Kind = linInvite
	case sub == 0 && (any || k.status != "") && p < 30:
		in.Kind = linRemove
	case sub == 1 && (any || k.status == "invited") && p < 45:
		in.Kind = linJoin
	case sub == 1 && (any || k.status == "invited") && p < 70:
		in.Kind = linRefuse
	case sub == 1 && (any || k.status == "active") && p < 30:
		in.Kind = linLeave
	}
	if in.Kind != linInvite && in.Kind != linMemberRead && rng.Intn(3) == 0 {
		in.IfMatch = cmp.Or(k.version, 1)
	}
	return in
}

// learnMember updates what the clients know of a membership from an
// answer: the status and version it showed, or that it ended.
func learnMember(k linKnown, r linRecord) linKnown {
	switch {
	case r.Version > 0 && r.Version >= k.version:
		k.status, k.version = r.AStatus, r.Version
	case r.Status == http.StatusNoContent,
		r.In.Kind == linMemberRead && r.Status == http.StatusOK && r.AStatus == "":
		k.status = ""
	}
	return k
}

// memberRequest is the HTTP request of a membership operation.
func memberRequest(in linInput) (method, path string, body any) {
	gid, uid, _ := strings.Cut(in.ID, "/")
	switch in.Kind {
	case linInvite:
		return "POST", "/api/groups/" + gid + "/members", map[string]any{"user_id": uid}
	case linJoin:
		return "POST", "/api/groups/" + gid + "/accept", nil
	case linRefuse:
		return "POST", "/api/groups/" + gid + "/decline", nil
	case linLeave, linRemove:
		return "DELETE", "/api/groups/" + gid + "/members/" + uid, nil
	}
	return "GET", "/api/groups/" + gid + "?consistency=strong", nil
}

// readMember fills what a strong read of the group shows of lin5 into
// rec: their status and version, or nothing if they are not listed.
func readMember(rec *linRecord, body []byte) {
	_, uid, _ := strings.Cut(rec.In.ID, "/")
	var g struct {
		Members []struct {
			UserID  string `json:"user_id"`
			Status  string `json:"status"`
			Version int64  `json:"version"`
		} `json:"members"`
	}
	if err := json.Unmarshal(body, &g); err != nil {
		rec.Err = fmt.Sprintf("undecodable body %q", body)
		return
	}
	rec.Version, rec.AStatus = 0, ""
	for _, m := range g.Members {
		if m.UserID == uid {
			rec.Version, rec.AStatus = m.Version, m.Status
		}
	}
}

// TestLinearizabilityModelMembership holds the membership model to legal
// and illegal histories of one group's membership of lin5.
func TestLinearizabilityModelMembership(t *testing.T) {
	// lin4 is sub 0, lin5 sub 1.
	op := func(client int, call, ret int64, sub int, kind linKind, ifMatch int64, out linOutput) porcupine.Operation {
		in := linInput{Kind: kind, Slot: "m/0", Sub: sub, ID: "g/lin5", IfMatch: ifMatch}
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	ok := linOutput{Outcome: outOK}
	shows := func(status string, v int64) linOutput { return linOutput{Outcome: outOK, Status: status, Version: v} }
	invite := op(0, 0, 10, 0, linInvite, 0, shows("invited", 1))
	join := op(1, 20, 30, 1, linJoin, 1, shows("active", 2))
	cases := []struct {
		name string
		ops  []porcupine.Operation
		ok   bool
	}{
		{"invited, accepted, left, invited again counting on, declined", []porcupine.Operation{invite,
			op(1, 12, 14, 1, linMemberRead, 0, linOutput{Outcome: outNotFound}),
			op(0, 12, 14, 0, linMemberRead, 0, shows("invited", 1)),
			op(2, 12, 14, 0, linInvite, 0, linOutput{Outcome: outConflict}),
			join,
			op(0, 40, 50, 0, linMemberRead, 0, shows("active", 2)),
			op(1, 40, 50, 1, linMemberRead, 0, shows("active", 2)),
			op(1, 60, 70, 1, linLeave, 2, ok),
			op(1, 80, 90, 1, linMemberRead, 0, linOutput{Outcome: outNotFound}),
			op(0, 80, 90, 0, linMemberRead, 0, shows("", 0)),
			op(0, 100, 110, 0, linInvite, 0, shows("invited", 3)),
			op(1, 120, 130, 1, linRefuse, 3, ok),
			op(1, 140, 150, 1, linJoin, 0, linOutput{Outcome: outNotFound}),
		}, true},
		{"accepted without an invitation", []porcupine.Operation{
			op(1, 0, 10, 1, linJoin, 0, shows("active", 1)),
		}, false},
		{"invited again at the version of the first", []porcupine.Operation{invite, join,
			op(0, 40, 50, 0, linRemove, 0, ok),
			op(0, 60, 70, 0, linInvite, 0, shows("invited", 1)),
		}, false},
		{"invited twice", []porcupine.Operation{invite,
			op(2, 20, 30, 0, linInvite, 0, shows("invited", 2)),
		}, false},
		{"refused as there already, while nobody is", []porcupine.Operation{
			op(0, 0, 10, 0, linInvite, 0, linOutput{Outcome: outConflict}),
		}, false},
		{"a stale If-Match accepted", []porcupine.Operation{invite, join,
			op(0, 40, 50, 0, linRemove, 1, ok),
		}, false},
		{"a stale If-Match refused, a fresh one taken", []porcupine.Operation{invite, join,
			op(0, 40, 50, 0, linRemove, 1, linOutput{Outcome: outPrecondition}),
			op(0, 60, 70, 0, linRemove, 2, ok),
		}, true},
		{"an invitee reads the group", []porcupine.Operation{invite,
			op(1, 20, 30, 1, linMemberRead, 0, shows("invited", 1)),
		}, false},
		{"an invitation left rather than declined", []porcupine.Operation{invite,
			op(1, 20, 30, 1, linLeave, 0, ok),
		}, false},
		{"an invitation withdrawn, then an answer to it", []porcupine.Operation{invite,
			op(0, 20, 30, 0, linRemove, 0, ok),
			op(1, 40, 50, 1, linJoin, 0, linOutput{Outcome: outNotFound}),
			op(1, 40, 50, 1, linRefuse, 0, linOutput{Outcome: outNotFound}),
		}, true},
		{"a removal and an acceptance racing, either first", []porcupine.Operation{invite,
			op(0, 20, 40, 0, linRemove, 0, ok),
			op(1, 21, 39, 1, linJoin, 0, shows("active", 2)),
			op(0, 50, 60, 0, linMemberRead, 0, shows("", 0)),
		}, true},
		{"a member listed after their removal", []porcupine.Operation{invite, join,
			op(0, 40, 50, 0, linRemove, 0, ok),
			op(0, 60, 70, 0, linMemberRead, 0, shows("active", 2)),
		}, false},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperations(linModel, c.ops); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}

// TestCheckAgainstStoreMembership holds the store checks to a made-up
// history of one membership: an answer showing another version, refusals
// no state in their window explains, and a strong read of a state that
// had passed are reported, and nothing else.
func TestCheckAgainstStoreMembership(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ev := func(pos int64, typ, req string) events.Envelope {
		data, _ := json.Marshal(map[string]string{"group_id": "g", "user_id": "lin5"})
		return events.Envelope{Position: pos, Version: pos, Stream: "group-g", Type: typ, CorrelationID: req, Data: data}
	}
	store := []events.Envelope{
		ev(1, "group.member_invited", "r1"),
		ev(2, "group.invitation_accepted", "r2"),
		ev(3, "group.member_removed", "r4"),
		ev(4, "group.member_invited", "r6"),
	}
	rec := func(req string, kind linKind, sub int, ifMatch int64, call, ret int, status int, pos int64, shown string, version int64) linRecord {
		return linRecord{ReqID: req, In: linInput{Kind: kind, Slot: "m/0", Sub: sub, ID: "g/lin5", IfMatch: ifMatch},
			Call: ms(call), Return: ms(ret), Status: status, Position: pos, AStatus: shown, Version: version, ETag: version}
	}
	recs := []linRecord{
		rec("r1", linInvite, 0, 0, 0, 10, http.StatusCreated, 1, "invited", 1),
		rec("r2", linJoin, 1, 1, 20, 30, http.StatusOK, 2, "active", 2),
		// Invited already once r1 answered: 409 fits; a 404 to leave,
		// sent once r2 answered, does not.
		rec("r3a", linInvite, 0, 0, 12, 14, http.StatusConflict, -1, "", 0),
		rec("r3b", linLeave, 1, 0, 32, 34, http.StatusNotFound, -1, "", 0),
		rec("r4", linRemove, 0, 2, 40, 50, http.StatusNoContent, 3, "", 0),
		// Gone once r4 answered: a 412 for a stale version does not fit.
		rec("r5", linRemove, 0, 1, 52, 54, http.StatusPreconditionFailed, -1, "", 0),
		// Invited again, at 3 (counting on from 2): the answer says 4.
		rec("r6", linInvite, 0, 0, 60, 70, http.StatusCreated, 4, "invited", 4),
		// Listed as a member after the removal.
		rec("r7", linMemberRead, 0, 0, 55, 58, http.StatusOK, 3, "active", 2),
	}
	v := checkAgainstStore(recs, newStoreFacts(store), ms(200))
	expectViolations(t, v, []violation{
		{"req r3b)", "404, but lin5's membership was there"},
		{"req r5)", "412, but the membership was at version 1"},
		{"req r6)", "answer shows invited at version 4, but the write's own event made it invited at 3"},
		{"req r7)", "strong read shows lin5 \"active\" at version 2"},
	})
	if porcupine.CheckOperations(linModel, v.Ops) {
		t.Error("porcupine accepts the history, whose stale refusals no order explains")
	}
}
