package main

// Recording client operations, and checking the recorded history against
// the final event store.
//
// Every write carries a unique X-Request-ID, which the node records as the
// correlation ID of the events it commits. Once the cluster has healed and
// the event stores are identical, the store therefore says, for every
// write, whether it committed, at which positions, and what it wrote —
// etcd's robustness tests use their watch stream the same way. That
// resolves unknown outcomes (a committed one gets the model's "committed"
// answer, one that did not commit is dropped: it had no effect) and lets
// every answer be held to the write's own events.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/agendahq/agenda/events"
)

// linRecord is one operation as the client saw it.
type linRecord struct {
	Client int
	Node   string
	In     linInput
	ReqID  string
	// Call and Return are offsets from the history's start.
	Call, Return time.Duration
	// Status is the HTTP status; 0 if there was no answer.
	Status int
	Code   string // error code of an error answer
	// Unknown is set when the write may or may not have happened: no answer,
	// a 5xx, or a 503 with details.outcome "unknown".
	Unknown bool
	// Position is the answer's X-Agenda-Position (-1 if absent).
	Position int64
	// Version, Title and AStatus are what a 2xx body showed (AStatus the
	// appointment's status); ETag its header.
	Version int64
	Title   string
	AStatus string
	ETag    int64
	// MinPosition is what a plain read asked for.
	MinPosition int64
	Err         string
}

func (r linRecord) String() string {
	s := fmt.Sprintf("client %d on %s: %s %s title %q if-match %d (req %s) → ", r.Client, r.Node, r.In.Kind, r.In.ID, r.In.Title, r.In.IfMatch, r.ReqID)
	if r.Status == 0 {
		return s + "no answer: " + r.Err
	}
	s += fmt.Sprintf("%d %s position %d version %d title %q etag %d", r.Status, r.Code, r.Position, r.Version, r.Title, r.ETag)
	if r.Unknown {
		s += " (outcome unknown)"
	}
	return s + fmt.Sprintf(" [%v–%v]", r.Call.Round(time.Millisecond), r.Return.Round(time.Millisecond))
}

// succeeded reports whether the answer says the write happened.
func (r linRecord) succeeded() bool {
	return r.Status == http.StatusOK || r.Status == http.StatusCreated || r.Status == http.StatusNoContent || r.Status == http.StatusAccepted
}

// refused reports whether the answer says the write did not happen.
func (r linRecord) refused() bool {
	return r.Status >= 400 && r.Status < 500 || r.Status == http.StatusServiceUnavailable && !r.Unknown
}

// linHistory collects records from many goroutines.
type linHistory struct {
	start time.Time
	// group is the hierarchical group lin0 imposes on lin1 in; flat
	// lin2's and lin3's flat group.
	group, flat string
	mu          sync.Mutex
	recs        []linRecord
	seq         int
}

func newLinHistory() *linHistory { return &linHistory{start: time.Now()} }

func (h *linHistory) add(r linRecord) {
	h.mu.Lock()
	h.recs = append(h.recs, r)
	h.mu.Unlock()
}

func (h *linHistory) records() []linRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.recs)
}

// nextReqID returns a request ID unique in the history.
func (h *linHistory) nextReqID(client int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return fmt.Sprintf("lin-%d-%d-%d", h.start.UnixNano()%1e9, client, h.seq)
}

// slotTime is the start of slot s; every slot is the same half hour of each
// user's day, so slots never overlap.
func slotTime(s int) time.Time {
	return time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Hour)
}

// perform sends one operation through c (a user's client aimed at node)
// and records it. Creates are in in.Slot's time; the caller sets Title,
// ID and IfMatch.
func (h *linHistory) perform(c *client, client int, node string, slot int, in linInput, minPos int64) linRecord {
	rec := linRecord{Client: client, Node: node, In: in, ReqID: h.nextReqID(client), Position: -1, MinPosition: minPos}
	var method, path string
	var body any
	switch in.Kind {
	case linCreate:
		method, path = "POST", "/api/appointments"
		body = appointmentBody(in.Title, slotTime(slot), 30*time.Minute)
	case linImpose:
		method, path = "POST", "/api/groups/"+h.group+"/appointments"
		body = appointmentBody(in.Title, slotTime(slot), 30*time.Minute)
	case linPropose:
		method, path = "POST", "/api/groups/"+h.flat+"/appointments"
		body = appointmentBody(in.Title, slotTime(slot), 30*time.Minute)
	case linAccept:
		method, path = "POST", "/api/appointments/"+in.ID+"/accept"
	case linDecline:
		method, path = "POST", "/api/appointments/"+in.ID+"/decline"
	case linPatch:
		method, path = "PATCH", "/api/appointments/"+in.ID
		body = map[string]any{"title": in.Title}
	case linDelete:
		method, path = "DELETE", "/api/appointments/"+in.ID
	case linStrongRead:
		method, path = "GET", "/api/appointments/"+in.ID+"?consistency=strong"
	case linPlainRead:
		method, path = "GET", fmt.Sprintf("/api/appointments/%s?min_position=%d", in.ID, minPos)
	default:
		method, path, body = memberRequest(in)
	}
	hdr := map[string]string{"X-Request-ID": rec.ReqID}
	if in.IfMatch != 0 {
		hdr["If-Match"] = fmt.Sprintf(`"%d"`, in.IfMatch)
	}
	rec.Call = time.Since(h.start)
	r, err := c.sendHeaders(method, path, body, hdr)
	rec.Return = time.Since(h.start)
	if err != nil {
		rec.Err = err.Error()
		rec.Unknown = true
		h.add(rec)
		return rec
	}
	rec.Status = r.Status
	if p, err := strconv.ParseInt(r.Header.Get("X-Agenda-Position"), 10, 64); err == nil {
		rec.Position = p
	}
	if et := strings.Trim(r.Header.Get("ETag"), `"`); et != "" {
		rec.ETag, _ = strconv.ParseInt(et, 10, 64)
	}
	switch {
	case in.Kind == linMemberRead && r.Status == http.StatusOK:
		readMember(&rec, r.Body)
	case r.Status == http.StatusOK || r.Status == http.StatusCreated:
		var a struct {
			ID      string `json:"id"`
			Title   string `json:"title"`
			Version int64  `json:"version"`
			Status  string `json:"status"`
		}
		body := r.Body
		if in.Kind == linAccept || in.Kind == linDecline {
			// An answer shows the participation, and the appointment in it.
			var p struct {
				Appointment json.RawMessage `json:"appointment"`
			}
			if json.Unmarshal(body, &p) == nil {
				body = p.Appointment
			}
		}
		if err := json.Unmarshal(body, &a); err != nil {
			rec.Err = fmt.Sprintf("undecodable body %q", r.Body)
		}
		rec.Version, rec.Title, rec.AStatus = a.Version, a.Title, a.Status
		if creates(in.Kind) {
			rec.In.ID = a.ID
		}
	case r.Status >= 400:
		var e struct {
			Error apiError `json:"error"`
		}
		json.Unmarshal(r.Body, &e)
		rec.Code = e.Error.Code
		rec.Err = e.Error.Message
		if r.Status >= 500 && (r.Status != http.StatusServiceUnavailable || e.Error.Details["outcome"] == "unknown") {
			rec.Unknown = true
		}
	}
	h.add(rec)
	return rec
}

// creates reports whether an operation makes an appointment.
func creates(k linKind) bool { return k == linCreate || k == linImpose || k == linPropose }

// reads reports whether an operation only reads.
func reads(k linKind) bool { return k == linStrongRead || k == linPlainRead || k == linMemberRead }

// ---------------------------------------------------------------------------
// What the event store says.

// storeEvent is one event of an appointment stream.
type storeEvent struct {
	Version, Position int64
	Type              string
	// Title is the appointment's title after the event ("" once deleted).
	Title string
	ReqID string
}

// reqEffect is what one request committed.
type reqEffect struct {
	First, Last int64 // positions of its first and last events
	Count       int
	// Contiguous is false if another request's event lies between its own.
	Contiguous bool
	// Appointment is the appointment stream it wrote, its event there.
	ApptID string
	Event  storeEvent
	// Member is the membership it changed ("<group ID>/<user ID>"), its
	// change (lin_members_test.go).
	Member      string
	MemberEvent memberEvent
}

// storeFacts indexes a final event store for the checks.
type storeFacts struct {
	byReq map[string]*reqEffect
	// streams maps an appointment ID to its events in version order.
	streams map[string][]storeEvent
	// members maps a membership to its changes in order.
	members map[string][]memberEvent
	head    int64
}

func newStoreFacts(evs []events.Envelope) *storeFacts {
	f := &storeFacts{byReq: map[string]*reqEffect{}, streams: map[string][]storeEvent{}, members: map[string][]memberEvent{}}
	lastReq := ""
	for _, e := range evs {
		f.head = max(f.head, e.Position)
		var data struct {
			AppointmentID string `json:"appointment_id"`
			Title         string `json:"title"`
		}
		ev := storeEvent{Version: e.Version, Position: e.Position, Type: e.Type, ReqID: e.CorrelationID}
		id, isAppt := strings.CutPrefix(e.Stream, "appointment-")
		if isAppt {
			json.Unmarshal(e.Data, &data)
			s := f.streams[id]
			switch e.Type {
			case "appointment.created", "appointment.updated":
				ev.Title = data.Title
			case "appointment.deleted":
			default:
				if len(s) > 0 {
					ev.Title = s[len(s)-1].Title
				}
			}
			f.streams[id] = append(s, ev)
		}
		member, change := f.addMemberEvent(e.Stream, e.Type, e.Position, e.Data)
		if e.CorrelationID != "" {
			r := f.byReq[e.CorrelationID]
			if r == nil {
				r = &reqEffect{First: e.Position, Contiguous: true}
				f.byReq[e.CorrelationID] = r
			} else if lastReq != e.CorrelationID {
				r.Contiguous = false
			}
			r.Last, r.Count = e.Position, r.Count+1
			if isAppt {
				r.ApptID, r.Event = id, ev
			}
			if change != nil {
				r.Member, r.MemberEvent = member, *change
			}
		}
		lastReq = e.CorrelationID
	}
	return f
}

// stateAt returns the appointment's last event at or before position pos
// (ok false if it did not exist yet).
func (f *storeFacts) stateAt(id string, pos int64) (storeEvent, bool) {
	var last storeEvent
	found := false
	for _, e := range f.streams[id] {
		if e.Position > pos {
			break
		}
		last, found = e, true
	}
	return last, found
}

// event returns version v of the appointment's stream.
func (f *storeFacts) event(id string, v int64) (storeEvent, bool) {
	s := f.streams[id]
	if v < 1 || int(v) > len(s) {
		return storeEvent{}, false
	}
	return s[v-1], true
}

// deleted reports whether the appointment's stream ends in a deletion.
func (f *storeFacts) deleted(id string) bool {
	s := f.streams[id]
	return len(s) > 0 && s[len(s)-1].Type == "appointment.deleted"
}

// linVerdict is the outcome of checking a history against the store.
type linVerdict struct {
	// Violations are broken promises found without porcupine.
	Violations []string
	// Ops is the history for porcupine; OpReqs the request ID of each.
	Ops    []porcupine.Operation
	OpReqs []string
	// Stale holds the request IDs of answers checkStaleAnswers flagged.
	Stale map[string]bool
	// Writes/Reads count the operations checked; Unknown those whose
	// outcome was unknown (Resolved: found committed).
	Writes, StrongReads, PlainReads, Unknown, Resolved int
	// LongestOutage is the longest span with no successful write.
	LongestOutage time.Duration
}

// checkAgainstStore holds every record to the final store and builds the
// porcupine history.
func checkAgainstStore(recs []linRecord, f *storeFacts, end time.Duration) linVerdict {
	var v linVerdict
	bad := func(r linRecord, format string, args ...any) {
		v.Violations = append(v.Violations, fmt.Sprintf(format, args...)+": "+r.String())
	}
	// Writes answered with a position, by position: they bound the return
	// time of the unknown outcomes that committed before them.
	type mark struct {
		pos int64
		ret time.Duration
	}
	var marks []mark
	seenReq := map[string]bool{}
	for _, r := range recs {
		if reads(r.In.Kind) {
			continue
		}
		eff := f.byReq[r.ReqID]
		if eff != nil && eff.Count > 0 && !eff.Contiguous {
			bad(r, "the write's events are not contiguous in the log")
		}
		if seenReq[r.ReqID] {
			bad(r, "request ID used twice (harness bug)")
		}
		seenReq[r.ReqID] = true
		switch {
		case r.succeeded() && eff == nil:
			bad(r, "acknowledged write is not in the event store (lost)")
		case r.refused() && eff != nil:
			bad(r, "write refused with %d %s, but it committed at position %d", r.Status, r.Code, eff.Last)
		case r.succeeded() && r.Status != http.StatusAccepted:
			if r.Position != eff.Last {
				bad(r, "answer's X-Agenda-Position %d, but the write's last event is at %d", r.Position, eff.Last)
				continue
			}
			marks = append(marks, mark{eff.Last, r.Return})
		}
	}
	sort.Slice(marks, func(i, j int) bool { return marks[i].pos > marks[j].pos })
	// minRet[i]: the earliest return among marks[0..i] (positions ≥ marks[i].pos).
	minRet := make([]time.Duration, len(marks))
	for i, m := range marks {
		minRet[i] = m.ret
		if i > 0 {
			minRet[i] = min(minRet[i], minRet[i-1])
		}
	}
	boundFor := func(pos int64) time.Duration {
		// The last mark with position ≥ pos.
		i := sort.Search(len(marks), func(i int) bool { return marks[i].pos < pos }) - 1
		if i < 0 {
			return end
		}
		return minRet[i]
	}

	var successes []time.Duration
	for _, r := range recs {
		eff := f.byReq[r.ReqID]
		op := porcupine.Operation{ClientId: r.Client, Input: r.In, Call: int64(r.Call), Return: int64(r.Return),
			Metadata: fmt.Sprintf("%s via %s, %d %s, position %d", r.ReqID, r.Node, r.Status, r.Code, r.Position)}
		out := linOutput{}
		switch r.In.Kind {
		case linPlainRead:
			v.PlainReads++
			checkPlainRead(r, f, bad)
			continue
		case linStrongRead, linMemberRead:
			switch r.Status {
			case http.StatusOK:
				out = linOutput{Outcome: outOK, Version: r.Version, Title: r.Title, Status: r.AStatus}
			case http.StatusNotFound:
				out.Outcome = outNotFound
			case http.StatusServiceUnavailable, 0:
				continue // a refused read says nothing
			default:
				bad(r, "unexpected answer to a strong read")
				continue
			}
			v.StrongReads++
		default:
			v.Writes++
			if r.succeeded() {
				successes = append(successes, r.Return)
			}
			if r.Unknown {
				v.Unknown++
				if eff == nil {
					continue // it did not happen
				}
				v.Resolved++
			}
			if eff != nil && creates(r.In.Kind) {
				if r.In.ID != "" && r.In.ID != eff.ApptID {
					bad(r, "%s answered with ID %s, but committed %s", r.In.Kind, r.In.ID, eff.ApptID)
				}
				op.Input = linInput{Kind: r.In.Kind, Slot: r.In.Slot, Sub: r.In.Sub, ID: eff.ApptID, Title: r.In.Title}
			}
			switch {
			case r.Unknown || r.Status == http.StatusAccepted:
				out.Outcome = outCommitted
				if creates(r.In.Kind) && eff != nil {
					out.Version = eff.Event.Version // what the model cannot tell (lin_model_test.go)
				}
				if r.Unknown {
					op.Return = int64(boundFor(eff.Last))
				}
			case r.succeeded() && eff == nil:
				continue // lost: reported above
			case r.succeeded():
				out = linOutput{Outcome: outOK, Version: r.Version, Title: r.Title, Status: r.AStatus}
				if r.In.Kind == linDelete {
					out = linOutput{Outcome: outOK}
				}
				checkWriteAnswer(r, eff, bad)
			case r.Status == http.StatusNotFound:
				out.Outcome = outNotFound
				if creates(r.In.Kind) {
					out = linOutput{Outcome: outIllegal, Note: "a create answered 404"}
				}
			case r.Status == http.StatusForbidden && r.In.Sub == 1 && (r.In.Kind == linPatch || r.In.Kind == linDelete):
				continue // lin1 may not change what lin0 imposed: refused without effect
			case r.Status == http.StatusPreconditionFailed:
				out.Outcome = outPrecondition
			case r.Status == http.StatusConflict && r.Code == "schedule_conflict":
				out.Outcome = outScheduleConflict
			case r.Status == http.StatusConflict && r.In.Kind >= linInvite:
				out.Outcome = outConflict
			case r.Status == http.StatusConflict, r.Status == http.StatusServiceUnavailable, r.Status == http.StatusTooManyRequests:
				continue // refused without effect (the store check holds it to that)
			default:
				bad(r, "unexpected answer to a write")
				continue
			}
		}
		op.Output = out
		v.Ops = append(v.Ops, op)
		v.OpReqs = append(v.OpReqs, r.ReqID)
	}
	v.Stale = map[string]bool{}
	checkStaleAnswers(recs, f, func(r linRecord, format string, args ...any) {
		v.Stale[r.ReqID] = true
		bad(r, format, args...)
	})
	slices.Sort(successes)
	prev := time.Duration(0)
	for _, s := range successes {
		v.LongestOutage = max(v.LongestOutage, s-prev)
		prev = s
	}
	if len(successes) > 0 {
		v.LongestOutage = max(v.LongestOutage, end-prev)
	}
	return v
}

// checkWriteAnswer holds a successful write's answer to its own committed
// event: the state it shows and its ETag are those right after that event.
func checkWriteAnswer(r linRecord, eff *reqEffect, bad func(linRecord, string, ...any)) {
	if r.In.Kind >= linInvite {
		checkMemberAnswer(r, eff, bad)
		return
	}
	if eff.ApptID == "" {
		bad(r, "the write committed no event on an appointment stream")
		return
	}
	want := eff.Event
	switch r.In.Kind {
	case linCreate:
		if want.Type != "appointment.created" {
			bad(r, "a create committed %s", want.Type)
		}
	case linImpose, linPropose:
		// In event level 1's form, the participant's own event comes last.
		if want.Type != "appointment.created" && want.Type != "appointment.participant_added" {
			bad(r, "a group appointment's creation committed %s", want.Type)
		}
	case linAccept:
		if want.Type != "appointment.accepted" && want.Type != "appointment.confirmed" {
			bad(r, "an acceptance committed %s", want.Type)
		}
	case linDecline:
		if want.Type != "appointment.declined" && want.Type != "appointment.cancelled" {
			bad(r, "a decline committed %s", want.Type)
		}
	case linPatch:
		if want.Type != "appointment.updated" {
			bad(r, "a patch committed %s", want.Type)
		}
	case linDelete:
		// Deleting an imposition cancels it for everyone.
		if want.Type != "appointment.deleted" && want.Type != "appointment.cancelled" {
			bad(r, "a delete committed %s", want.Type)
		}
		return
	}
	if r.Version != want.Version || r.Title != want.Title {
		bad(r, "answer shows version %d %q, but the write's own event made version %d %q", r.Version, r.Title, want.Version, want.Title)
	}
	if r.ETag != want.Version {
		bad(r, "answer's ETag is %d, but the write made version %d", r.ETag, want.Version)
	}
}

// checkPlainRead holds a plain read to what the contract promises of it:
// not served below its min_position, a state the appointment really had,
// at least as new as the position the answer names.
func checkPlainRead(r linRecord, f *storeFacts, bad func(linRecord, string, ...any)) {
	switch r.Status {
	case http.StatusOK, http.StatusNotFound:
	case http.StatusServiceUnavailable, 0:
		return
	default:
		bad(r, "unexpected answer to a read")
		return
	}
	if r.Position < r.MinPosition {
		bad(r, "read served at position %d, below its min_position %d", r.Position, r.MinPosition)
	}
	at, existed := f.stateAt(r.In.ID, r.Position)
	if r.Status == http.StatusNotFound {
		if existed && !f.deleted(r.In.ID) {
			bad(r, "read answered 404 at position %d, where the appointment exists (and was never deleted)", r.Position)
		}
		return
	}
	e, ok := f.event(r.In.ID, r.Version)
	switch {
	case !ok:
		bad(r, "read shows version %d, which the appointment never had", r.Version)
	case e.Type == "appointment.deleted":
		bad(r, "read shows version %d, the appointment's deletion, as live", r.Version)
	case e.Title != r.Title:
		bad(r, "read shows version %d titled %q; that version's title is %q", r.Version, r.Title, e.Title)
	case existed && r.Version < at.Version:
		bad(r, "read at position %d shows version %d, older than version %d committed at %d", r.Position, r.Version, at.Version, at.Position)
	}
	if r.ETag != r.Version {
		bad(r, "ETag %d for version %d", r.ETag, r.Version)
	}
}

// endOfHistory is later than every return time.
func endOfHistory(recs []linRecord) time.Duration {
	var end time.Duration
	for _, r := range recs {
		end = max(end, r.Return)
	}
	return min(end+time.Second, math.MaxInt64)
}
