package main

// The stale-state check of the linearizability harness: refusals and
// strong reads held to the states the cluster was in while they were in
// flight (issue 8, finding 3).

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"time"
)

// checkStaleAnswers finds answers that no state of the window they were
// in flight allows — the porcupine verdict made readable. Every write
// acknowledged before an operation was sent committed before it took
// effect, and every write sent after its answer committed after: so the
// operation saw the state at some position between the highest position
// acknowledged before its call (lo: a write's last event) and the lowest
// committed by a write sent after its return (hi, exclusive: a write's
// first event). An answer that fits no state in [lo, hi) was decided on
// stale (or future) state.
func checkStaleAnswers(recs []linRecord, f *storeFacts, bad func(linRecord, string, ...any)) {
	type acked struct {
		first, last int64 // positions of the write's first and last events
		call, ret   time.Duration
	}
	var ws []acked
	// takes names the sub-slots an operation needs free and then takes:
	// an imposition both of its slot's, anything else its caller's (a
	// group's slot has two).
	takes := func(in linInput) []string {
		subs := []int{in.Sub}
		if in.Kind == linImpose {
			subs = []int{0, 1}
		}
		var out []string
		for _, sub := range subs {
			out = append(out, fmt.Sprintf("%s#%d", in.Slot, sub))
		}
		return out
	}
	slotsOf := map[string][]string{} // appointment ID → the sub-slots it takes
	for _, r := range recs {
		eff := f.byReq[r.ReqID]
		switch {
		case eff == nil:
		case creates(r.In.Kind):
			slotsOf[eff.ApptID] = takes(r.In)
		case r.In.Kind == linAccept:
			// It takes lin3's sub-slot from the acceptance on; counted
			// from its start, which only makes this check more lenient.
			slotsOf[eff.ApptID] = append(slotsOf[eff.ApptID], takes(r.In)...)
		}
		if eff != nil && r.succeeded() && r.Status != http.StatusAccepted && r.Position == eff.Last {
			ws = append(ws, acked{eff.First, eff.Last, r.Call, r.Return})
		}
	}
	bySlot := map[string][]string{}
	for id, subs := range slotsOf {
		for _, s := range subs {
			bySlot[s] = append(bySlot[s], id)
		}
	}
	byRet := slices.Clone(ws)
	slices.SortFunc(byRet, func(a, b acked) int { return cmpDur(a.ret, b.ret) })
	prefixMax := make([]int64, len(byRet))
	for i, w := range byRet {
		prefixMax[i] = w.last
		if i > 0 {
			prefixMax[i] = max(prefixMax[i], prefixMax[i-1])
		}
	}
	byCall := slices.Clone(ws)
	slices.SortFunc(byCall, func(a, b acked) int { return cmpDur(a.call, b.call) })
	suffixMin := make([]int64, len(byCall))
	for i := len(byCall) - 1; i >= 0; i-- {
		suffixMin[i] = byCall[i].first
		if i < len(byCall)-1 {
			suffixMin[i] = min(suffixMin[i], suffixMin[i+1])
		}
	}
	window := func(r linRecord) (lo, hi int64) {
		i := sort.Search(len(byRet), func(i int) bool { return byRet[i].ret >= r.Call })
		if i > 0 {
			lo = prefixMax[i-1]
		}
		j := sort.Search(len(byCall), func(j int) bool { return byCall[j].call > r.Return })
		hi = math.MaxInt64
		if j < len(byCall) {
			hi = suffixMin[j]
		}
		return lo, hi
	}
	// fits reports whether pred holds for the stream's state at some
	// position in [lo, hi).
	fits := func(id string, lo, hi int64, pred func(e storeEvent, existed bool) bool) bool {
		e, ok := f.stateAt(id, lo)
		if pred(e, ok) {
			return true
		}
		for _, ev := range f.streams[id] {
			if ev.Position > lo && ev.Position < hi && pred(ev, true) {
				return true
			}
		}
		return false
	}
	// live: taking its slot; readable: live, or a cancelled imposition.
	readable := func(e storeEvent, existed bool) bool { return existed && e.Type != "appointment.deleted" }
	live := func(e storeEvent, existed bool) bool {
		return readable(e, existed) && e.Type != "appointment.cancelled"
	}
	for _, r := range recs {
		if r.Unknown || r.Status == 0 {
			continue
		}
		lo, hi := window(r)
		if r.In.Kind >= linInvite {
			checkStaleMember(r, f, lo, hi, bad)
			continue
		}
		switch {
		case r.In.Kind == linCreate && r.Status == http.StatusNotFound:
			// The caller exists (it registered before the run): a node
			// that does not know it yet decided on stale state.
			bad(r, "a create answered 404 (%s)", r.Err)
		case (creates(r.In.Kind) || r.In.Kind == linAccept) && r.Code == "schedule_conflict":
			taken := false
			for _, s := range takes(r.In) {
				for _, id := range bySlot[s] {
					if fits(id, lo, hi, live) {
						taken = true
					}
				}
			}
			// Another slot's appointment cannot clash: slots never overlap.
			if !taken {
				bad(r, "schedule_conflict, but the slot was free at every position in [%d, %d)", lo, hi)
			}
		case (r.In.Kind == linPatch || r.In.Kind == linDelete || r.In.Kind == linStrongRead) && r.Status == http.StatusNotFound:
			if !fits(r.In.ID, lo, hi, func(e storeEvent, existed bool) bool { return existed && !readable(e, existed) }) {
				bad(r, "404, but the appointment was live at every position in [%d, %d)", lo, hi)
			}
		case r.Status == http.StatusPreconditionFailed:
			if !fits(r.In.ID, lo, hi, func(e storeEvent, existed bool) bool { return readable(e, existed) && e.Version != r.In.IfMatch }) {
				bad(r, "412, but the appointment was at version %d (or gone) at every position in [%d, %d)", r.In.IfMatch, lo, hi)
			}
		case r.In.Kind == linStrongRead && r.Status == http.StatusOK:
			if !fits(r.In.ID, lo, hi, func(e storeEvent, existed bool) bool {
				return readable(e, existed) && e.Version == r.Version && e.Title == r.Title
			}) {
				bad(r, "strong read shows version %d %q, a state the appointment was not in at any position in [%d, %d)", r.Version, r.Title, lo, hi)
			}
		}
	}
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
