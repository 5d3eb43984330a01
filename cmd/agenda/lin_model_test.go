package main

// The sequential specification the linearizability harness checks histories
// against (porcupine), and the check itself.
//
// What is modelled. Every client operation concerns one user's slot: a
// fixed half hour of that user's calendar. Creates in a slot contend (the
// owner's own appointments block the slot, so at most one live appointment
// may hold it); PATCHes change only the title, never the time; so a slot's
// operations never depend on another slot's, and the history is partitioned
// by slot (porcupine's Model.Partition). A slot's state is its live
// appointment — ID, version, title — or none. An operation on an ID that is
// not the slot's live appointment can only be one created earlier and since
// deleted: clients learn IDs only from acknowledged creates, which precede
// every later operation on them in real time.
//
// Groups. Two users (lin0 and lin1) share a hierarchical group in which
// lin0 outranks lin1, and lin0 also imposes appointments on both: an
// imposition takes lin0's slot and lin1's at once, so their slots of one
// half hour form one partition ("g/3") of two sub-slots, lin0's (Sub 0) and
// lin1's (Sub 1). Likewise lin2 and lin3 share a flat group ("f/3"): lin2
// proposes an appointment, which takes lin2's sub-slot at once, pending;
// lin3's acceptance (which needs lin3's sub-slot free) confirms it and
// takes lin3's too; lin3's decline, or lin2's delete, cancels it. An imposition needs both free; it blocks each as a
// personal appointment does, and lin1's own appointment blocks an
// imposition. lin0 changes and deletes it; deleting it cancels it: the
// sub-slots are free again, and the appointment stays readable, cancelled,
// at the version the cancellation made (a write to it is then refused,
// 409, or 412 for a stale If-Match). lin1 may read it, never change it
// (403, which the harness leaves out as a refusal without effect).
//
// Writes and strong reads are checked; plain reads are not linearizable by
// contract and are checked on their own (lin_history_test.go).

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// linKind is what an operation does.
type linKind int

const (
	linCreate linKind = iota
	linPatch
	linDelete
	linStrongRead
	linPlainRead
	// linImpose is lin0's group appointment, imposed on lin1.
	linImpose
	// linPropose is lin2's appointment in a flat group with lin3, which
	// holds once lin3 accepts it (linAccept) and is cancelled if lin3
	// declines it (linDecline).
	linPropose
	linAccept
	linDecline
	// Membership by consent (lin_members_test.go): lin4 invites lin5 to
	// one of its hierarchical groups (linInvite) and removes them
	// (linRemove); lin5 accepts (linJoin), declines (linRefuse) or leaves
	// (linLeave); either reads the group with consistency=strong
	// (linMemberRead). Every kind from linInvite on is a membership's.
	linInvite
	linJoin
	linRefuse
	linLeave
	linRemove
	linMemberRead
)

func (k linKind) String() string {
	return [...]string{"create", "patch", "delete", "read(strong)", "read", "impose", "propose", "accept", "decline",
		"invite", "join", "refuse", "leave", "remove", "read-membership(strong)"}[k]
}

// linInput is an operation as sent.
type linInput struct {
	Kind linKind
	// Slot is the partition key: user and slot, or the group's slot.
	Slot string
	// Sub is whose sub-slot of a group's slot: 0 lin0's, 1 lin1's (0
	// for everyone else's slots, which have one).
	Sub int
	// ID is the appointment (for a create: the one it made, once known).
	ID string
	// Title is the unique title a create or patch writes.
	Title string
	// IfMatch is the version sent in If-Match (0: none).
	IfMatch int64
}

// linOutcome is an answer, reduced to what the model needs.
type linOutcome int

const (
	// outOK: 200/201/204 with the state shown (Version, Title).
	outOK linOutcome = iota
	// outCommitted: the write committed but its answer showed nothing — a
	// 202, or an unknown outcome resolved against the final event store.
	outCommitted
	outNotFound
	outPrecondition
	outScheduleConflict
	// outIllegal is an answer no state allows (a create answered 404, say).
	outIllegal
	// outConflict: 409 for a membership that is there already.
	outConflict
)

func (o linOutcome) String() string {
	return [...]string{"ok", "committed", "404", "412", "409 schedule_conflict", "illegal", "409"}[o]
}

// linOutput is an answer as the model sees it.
type linOutput struct {
	Outcome linOutcome
	Version int64
	Title   string
	// Status is the appointment's status an answer showed ("" if none).
	Status string
	// Note explains an outIllegal answer.
	Note string
}

// appt is an appointment as the model knows it.
type appt struct {
	ID      string
	Version int64
	Title   string
	// Kind is "" for one's own appointment, "imposed" or "flat" for a
	// group's; Status its status as answers show it, for a group's.
	Kind, Status string
}

// slotState is one slot: the live appointment of each sub-slot, if any
// (the same one in both for an imposition, or a flat group's appointment
// once lin3 accepted it; one lin3 has not accepted yet is in lin2's only,
// pending), and the group appointments cancelled in it, still readable.
// Comparable, so porcupine's default equality works: the cancelled ones
// are a string, one line each, in the order they were cancelled.
type slotState struct {
	Sub       [2]appt
	Cancelled string
	// Member is lin5's membership of the slot's group, in a membership's
	// partition (lin_members_test.go).
	Member membership
}

// cancelled finds id among the slot's cancelled group appointments.
func (st slotState) cancelled(id string) (appt, bool) {
	for line := range strings.Lines(st.Cancelled) {
		var a appt
		if _, err := fmt.Sscanf(line, "%s %d %q", &a.ID, &a.Version, &a.Title); err == nil && a.ID == id {
			a.Status = "cancelled"
			return a, true
		}
	}
	return appt{}, false
}

// cancel records a as cancelled, at version v: the sub-slots it held are
// free.
func (st slotState) cancel(a appt, v int64) slotState {
	next := slotState{Sub: st.Sub, Cancelled: st.Cancelled + fmt.Sprintf("%s %d %q\n", a.ID, v, a.Title)}
	for i := range next.Sub {
		if next.Sub[i].ID == a.ID {
			next.Sub[i] = appt{}
		}
	}
	return next
}

// shared reports whether id is a group appointment live in both sub-slots.
func (st slotState) shared(id string) bool {
	return id != "" && st.Sub[0].ID == id && st.Sub[1].ID == id
}

// shows reports whether out shows a: its version, title and (where the
// answer says) status.
func shows(out linOutput, a appt) bool {
	return out.Version == a.Version && out.Title == a.Title && (out.Status == "" || a.Status == "" || out.Status == a.Status)
}

// linStep is the model's step function.
func linStep(st slotState, in linInput, out linOutput) (bool, slotState) {
	if out.Outcome == outIllegal {
		return false, st
	}
	if in.Kind >= linInvite {
		return memberStep(st, in, out)
	}
	mine := st.Sub[in.Sub]
	live := mine.ID != "" && in.ID == mine.ID
	matches := in.IfMatch == 0 || in.IfMatch == mine.Version
	// A flat group's appointment lin3 (Sub 1) is invited to: lin2's, pending.
	lead := st.Sub[0]
	invited := in.Sub == 1 && in.ID != "" && in.ID == lead.ID && lead.Kind == "flat" && lead.Status == "pending"
	// One lin3 has accepted, and may withdraw from (which cancels it).
	accepted := in.Sub == 1 && lead.Kind == "flat" && st.shared(in.ID)
	leadMatches := in.IfMatch == 0 || in.IfMatch == lead.Version
	// A cancelled group appointment: still there to read, and a write to
	// it with a stale If-Match is refused for that first.
	was, gone := st.cancelled(in.ID)
	staleGone := gone && in.IfMatch != 0 && in.IfMatch != was.Version
	if (in.Kind == linPatch || in.Kind == linDelete) && in.Sub == 1 && (lead.Kind != "" && in.ID == lead.ID || gone) &&
		(out.Outcome == outOK || out.Outcome == outCommitted) {
		return false, st // only the organiser (lin0, lin2) changes a group's appointment
	}
	// created is the version a create made: 1; or 2 for a group's
	// appointment written in the form of event level 1, its participant an
	// event of its own, as it is while the cluster counts a node whose
	// level it has not heard yet (one back from a lost disk under a new
	// identity, say). A committed create's version comes from the store.
	created := func(group bool) (int64, bool) {
		switch {
		case out.Version == 0 || out.Version == 1:
			return 1, true
		case group && out.Version == 2:
			return 2, true
		}
		return 0, false
	}
	set := func(a appt) slotState {
		next := st
		if st.shared(in.ID) {
			next.Sub = [2]appt{a, a}
		} else {
			next.Sub[in.Sub] = a
		}
		return next
	}
	switch in.Kind {
	case linCreate, linPropose:
		v, ok := created(in.Kind == linPropose)
		a := appt{ID: in.ID, Version: v, Title: in.Title}
		if in.Kind == linPropose {
			a.Kind, a.Status = "flat", "pending"
		}
		switch out.Outcome {
		case outOK:
			return ok && mine.ID == "" && shows(out, a), set(a)
		case outCommitted:
			return ok && mine.ID == "", set(a)
		case outScheduleConflict:
			return mine.ID != "", st
		}
	case linImpose:
		free := st.Sub[0].ID == "" && st.Sub[1].ID == ""
		v, ok := created(true)
		a := appt{ID: in.ID, Version: v, Title: in.Title, Kind: "imposed", Status: "confirmed"}
		imposed := slotState{Sub: [2]appt{a, a}, Cancelled: st.Cancelled}
		switch out.Outcome {
		case outOK:
			return ok && free && shows(out, a), imposed
		case outCommitted:
			return ok && free, imposed
		case outScheduleConflict:
			return !free, st
		}
	case linAccept:
		// Accepting the last invitation confirms a flat group's
		// appointment: two events, so two versions.
		a := appt{ID: lead.ID, Version: lead.Version + 2, Title: lead.Title, Kind: "flat", Status: "confirmed"}
		confirmed := slotState{Sub: [2]appt{a, a}, Cancelled: st.Cancelled}
		switch out.Outcome {
		case outOK:
			return invited && leadMatches && mine.ID == "" && shows(out, a), confirmed
		case outCommitted:
			return invited && leadMatches && mine.ID == "", confirmed
		case outScheduleConflict:
			return invited && leadMatches && mine.ID != "", st
		case outPrecondition:
			return invited && !leadMatches, st
		case outNotFound: // lin3's own appointment, deleted
			return !live && !gone && !invited && !accepted, st
		}
	case linDecline:
		// In a flat group a decline, or an acceptance withdrawn,
		// cancels the appointment for everyone: two events.
		open := invited || accepted
		withdrawn := st.cancel(lead, lead.Version+2)
		switch out.Outcome {
		case outOK:
			return open && leadMatches && shows(out, appt{ID: lead.ID, Version: lead.Version + 2, Title: lead.Title, Status: "cancelled"}), withdrawn
		case outCommitted:
			return open && leadMatches, withdrawn
		case outPrecondition:
			return open && !leadMatches, st
		case outNotFound: // lin3's own appointment, deleted
			return !live && !gone && !open, st
		}
	case linPatch:
		patched := set(appt{ID: mine.ID, Version: mine.Version + 1, Title: in.Title, Kind: mine.Kind, Status: mine.Status})
		switch out.Outcome {
		case outOK:
			ok := live && matches && out.Version == mine.Version+1 && out.Title == in.Title
			return ok, patched
		case outCommitted:
			return live && matches, patched
		case outNotFound:
			return !live && !gone && !invited, st
		case outPrecondition:
			return live && !matches || staleGone, st
		}
	case linDelete:
		switch out.Outcome {
		case outOK, outCommitted:
			if !live || !matches {
				return false, st
			}
			if mine.Kind != "" { // a group's appointment is cancelled
				return true, st.cancel(mine, mine.Version+1)
			}
			next := st
			next.Sub[in.Sub] = appt{}
			return true, next
		case outNotFound:
			return !live && !gone && !invited, st
		case outPrecondition:
			return live && !matches || staleGone, st
		}
	case linStrongRead:
		switch out.Outcome {
		case outOK:
			switch {
			case gone:
				return shows(out, was), st
			case invited:
				return shows(out, lead), st
			}
			return live && shows(out, mine), st
		case outNotFound:
			return !live && !gone && !invited, st
		}
	}
	return false, st
}

// linModel is the porcupine model of the slots.
var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		bySlot := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(linInput).Slot
			if _, ok := bySlot[k]; !ok {
				keys = append(keys, k)
			}
			bySlot[k] = append(bySlot[k], op)
		}
		slices.Sort(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, bySlot[k])
		}
		return out
	},
	Init: func() any { return slotState{} },
	Step: func(state, input, output any) (bool, any) {
		return linStep(state.(slotState), input.(linInput), output.(linOutput))
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", in.Kind, short(in.ID))
		if in.Sub != 0 {
			fmt.Fprintf(&b, " as lin%d", in.Sub)
		}
		if in.Title != "" {
			fmt.Fprintf(&b, " %q", in.Title)
		}
		if in.IfMatch != 0 {
			fmt.Fprintf(&b, " if-match %d", in.IfMatch)
		}
		fmt.Fprintf(&b, " → %s", out.Outcome)
		if out.Outcome == outOK && (out.Version != 0 || out.Title != "") {
			fmt.Fprintf(&b, " v%d %q", out.Version, out.Title)
		}
		if out.Note != "" {
			fmt.Fprintf(&b, " (%s)", out.Note)
		}
		return b.String()
	},
	DescribeState: func(state any) string {
		st := state.(slotState)
		if m := st.Member; m != (membership{}) {
			return fmt.Sprintf("lin5 %s, membership version %d", cmp.Or(m.Status, "not in the group"), m.Version)
		}
		describe := func(a appt) string {
			if a.ID == "" {
				return "free"
			}
			return fmt.Sprintf("%s v%d %q", short(a.ID), a.Version, a.Title)
		}
		d := describe(st.Sub[0])
		if st.Sub[1].ID != "" || st.Cancelled != "" {
			d = "lin0: " + d + "; lin1: " + describe(st.Sub[1])
		}
		for line := range strings.Lines(st.Cancelled) {
			var a appt
			fmt.Sscanf(line, "%s %d %q", &a.ID, &a.Version, &a.Title)
			d += "; cancelled: " + describe(a)
		}
		return d
	},
	DescribeOperationMetadata: func(info any) string {
		if s, ok := info.(string); ok {
			return s
		}
		return ""
	},
}

// short abbreviates an ID for the visualization.
func short(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

// checkLinearizable runs porcupine over ops; on a failure (or a checker
// timeout) it writes the visualization into the test's output directory
// and fails the test. It reports whether the history is linearizable.
func checkLinearizable(t testing.TB, ops []porcupine.Operation, timeout time.Duration) bool {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(linModel, ops, timeout)
	t.Logf("porcupine: %d operations in %d slots: %s", len(ops), len(linModel.Partition(ops)), res)
	if res == porcupine.Ok {
		return true
	}
	path := filepath.Join(testOutputDir(t), "linearizability.html")
	if err := porcupine.VisualizePath(linModel, info, path); err != nil {
		t.Errorf("write porcupine visualization: %v", err)
	} else {
		t.Logf("porcupine visualization: %s", path)
	}
	writeFailingSlots(t, ops, timeout, filepath.Dir(path), "slot-")
	if res == porcupine.Unknown {
		t.Errorf("porcupine could not decide within %v: the history is not checked", timeout)
		return false
	}
	t.Errorf("the history is not linearizable (see %s)", path)
	return false
}

// writeFailingSlots names the slots whose history fails, each with its
// operations in call order in dir/<prefix><slot>.txt: easier to read than
// the visualization in a terminal.
func writeFailingSlots(t testing.TB, ops []porcupine.Operation, timeout time.Duration, dir, prefix string) {
	t.Helper()
	for _, part := range linModel.Partition(ops) {
		if porcupine.CheckOperationsTimeout(linModel, part, timeout) == porcupine.Ok {
			continue
		}
		slot := part[0].Input.(linInput).Slot
		sorted := slices.Clone(part)
		slices.SortFunc(sorted, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		var b strings.Builder
		describeStuck(&b, part, timeout)
		for _, op := range sorted {
			fmt.Fprintf(&b, "[%9.3f, %9.3f] client %d: %s — %v\n", float64(op.Call)/1e9, float64(op.Return)/1e9, op.ClientId,
				linModel.DescribeOperation(op.Input, op.Output), op.Metadata)
		}
		file := filepath.Join(dir, prefix+strings.ReplaceAll(slot, "/", "-")+".txt")
		os.WriteFile(file, []byte(b.String()), 0o644)
		t.Logf("slot %s is not linearizable: %d operations in %s", slot, len(part), file)
	}
}

// testOutputDir is where a failing test leaves files for a human:
// $AGENDA_TEST_OUTPUT if set, else a directory under the system's temp dir
// (t.TempDir would be removed when the test ends). It is created on first
// use and its path logged.
func testOutputDir(t testing.TB) string {
	t.Helper()
	outputDirs.Lock()
	defer outputDirs.Unlock()
	if dir, ok := outputDirs.m[t.Name()]; ok {
		return dir
	}
	base := os.Getenv("AGENDA_TEST_OUTPUT")
	if base == "" {
		base = filepath.Join(os.TempDir(), "agenda-test-output")
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir := filepath.Join(base, fmt.Sprintf("%s-%s", name, time.Now().UTC().Format("20060102T150405.000")))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("output dir: %v", err)
	}
	t.Logf("test output in %s", dir)
	outputDirs.m[t.Name()] = dir
	return dir
}

// outputDirs remembers each test's output dir.
var outputDirs = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

// TestLinearizabilityModel proves the model can fail: it accepts a
// legal history of one slot and rejects the anomalies the harness exists to
// catch.
func TestLinearizabilityModel(t *testing.T) {
	op := func(client int, call, ret int64, in linInput, out linOutput) porcupine.Operation {
		in.Slot = "u1/0"
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	create := op(0, 0, 10, linInput{Kind: linCreate, ID: "a", Title: "t0"}, linOutput{Outcome: outOK, Version: 1, Title: "t0"})
	cases := []struct {
		name string
		ops  []porcupine.Operation
		ok   bool
	}{
		{"concurrent patches, each answer its own", []porcupine.Operation{create,
			op(1, 20, 40, linInput{Kind: linPatch, ID: "a", Title: "t1"}, linOutput{Outcome: outOK, Version: 3, Title: "t1"}),
			op(2, 21, 41, linInput{Kind: linPatch, ID: "a", Title: "t2"}, linOutput{Outcome: outOK, Version: 2, Title: "t2"}),
			op(0, 50, 60, linInput{Kind: linStrongRead, ID: "a"}, linOutput{Outcome: outOK, Version: 3, Title: "t1"}),
		}, true},
		{"a patch answers another patch's state", []porcupine.Operation{create,
			op(1, 20, 40, linInput{Kind: linPatch, ID: "a", Title: "t1"}, linOutput{Outcome: outOK, Version: 3, Title: "t2"}),
			op(2, 21, 41, linInput{Kind: linPatch, ID: "a", Title: "t2"}, linOutput{Outcome: outOK, Version: 3, Title: "t2"}),
		}, false},
		{"a committed patch answers 404 (deleted right after)", []porcupine.Operation{create,
			op(1, 20, 40, linInput{Kind: linPatch, ID: "a", Title: "t1"}, linOutput{Outcome: outNotFound}),
			op(2, 21, 30, linInput{Kind: linDelete, ID: "a"}, linOutput{Outcome: outOK}),
			op(0, 50, 60, linInput{Kind: linStrongRead, ID: "a"}, linOutput{Outcome: outNotFound}),
		}, true}, // legal as such: the store check says whether the 404'd patch committed
		{"stale strong read", []porcupine.Operation{create,
			op(1, 20, 30, linInput{Kind: linPatch, ID: "a", Title: "t1"}, linOutput{Outcome: outOK, Version: 2, Title: "t1"}),
			op(2, 40, 50, linInput{Kind: linStrongRead, ID: "a"}, linOutput{Outcome: outOK, Version: 1, Title: "t0"}),
		}, false},
		{"double booking", []porcupine.Operation{create,
			op(1, 20, 30, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 1, Title: "u"}),
		}, false},
		{"booking after a delete", []porcupine.Operation{create,
			op(1, 20, 30, linInput{Kind: linDelete, ID: "a", IfMatch: 1}, linOutput{Outcome: outOK}),
			op(1, 40, 50, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 1, Title: "u"}),
			op(2, 41, 49, linInput{Kind: linPatch, ID: "a", Title: "x"}, linOutput{Outcome: outNotFound}),
		}, true},
		{"stale If-Match accepted", []porcupine.Operation{create,
			op(1, 20, 30, linInput{Kind: linPatch, ID: "a", Title: "t1"}, linOutput{Outcome: outOK, Version: 2, Title: "t1"}),
			op(2, 40, 50, linInput{Kind: linPatch, ID: "a", Title: "t2", IfMatch: 1}, linOutput{Outcome: outOK, Version: 3, Title: "t2"}),
		}, false},
		{"an unknown outcome that committed, bounded by a later answer", []porcupine.Operation{create,
			op(1, 20, 45, linInput{Kind: linPatch, ID: "a", Title: "t1"}, linOutput{Outcome: outCommitted}),
			op(2, 40, 50, linInput{Kind: linPatch, ID: "a", Title: "t2", IfMatch: 2}, linOutput{Outcome: outOK, Version: 3, Title: "t2"}),
		}, true},
		{"a create answered 404", []porcupine.Operation{
			op(1, 20, 30, linInput{Kind: linCreate, Title: "t"}, linOutput{Outcome: outIllegal, Note: "404"}),
		}, false},
	}
	// lin0 (Sub 0) imposes on lin1 (Sub 1) in the group's slot.
	g := func(client int, call, ret int64, sub int, in linInput, out linOutput) porcupine.Operation {
		in.Slot, in.Sub = "g/0", sub
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	impose := g(0, 0, 10, 0, linInput{Kind: linImpose, ID: "i", Title: "t0"}, linOutput{Outcome: outOK, Version: 1, Title: "t0"})
	cases = append(cases, []struct {
		name string
		ops  []porcupine.Operation
		ok   bool
	}{
		{"an imposition blocks lin1's own booking, and lin0's", []porcupine.Operation{impose,
			g(1, 20, 30, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outScheduleConflict}),
			g(2, 20, 30, 0, linInput{Kind: linCreate, ID: "c", Title: "v"}, linOutput{Outcome: outScheduleConflict}),
			g(1, 40, 50, 1, linInput{Kind: linStrongRead, ID: "i"}, linOutput{Outcome: outOK, Version: 1, Title: "t0"}),
		}, true},
		{"lin1 double-booked by an imposition", []porcupine.Operation{
			g(1, 0, 10, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 1, Title: "u"}),
			g(0, 20, 30, 0, linInput{Kind: linImpose, ID: "i", Title: "t0"}, linOutput{Outcome: outOK, Version: 1, Title: "t0"}),
		}, false},
		{"lin0's own booking does not block lin1's", []porcupine.Operation{
			g(0, 0, 10, 0, linInput{Kind: linCreate, ID: "a", Title: "t"}, linOutput{Outcome: outOK, Version: 1, Title: "t"}),
			g(1, 20, 30, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 1, Title: "u"}),
			g(0, 40, 50, 0, linInput{Kind: linImpose, ID: "i", Title: "t0"}, linOutput{Outcome: outScheduleConflict}),
		}, true},
		{"a patch of the imposition shows to lin1", []porcupine.Operation{impose,
			g(0, 20, 30, 0, linInput{Kind: linPatch, ID: "i", Title: "t1"}, linOutput{Outcome: outOK, Version: 2, Title: "t1"}),
			g(1, 40, 50, 1, linInput{Kind: linStrongRead, ID: "i"}, linOutput{Outcome: outOK, Version: 1, Title: "t0"}),
		}, false},
		{"cancelled: both free, still readable, a stale If-Match refused", []porcupine.Operation{impose,
			g(0, 20, 30, 0, linInput{Kind: linDelete, ID: "i"}, linOutput{Outcome: outOK}),
			g(1, 40, 50, 1, linInput{Kind: linStrongRead, ID: "i"}, linOutput{Outcome: outOK, Version: 2, Title: "t0"}),
			g(0, 40, 50, 0, linInput{Kind: linPatch, ID: "i", Title: "x", IfMatch: 1}, linOutput{Outcome: outPrecondition}),
			g(1, 60, 70, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 1, Title: "u"}),
			g(0, 60, 70, 0, linInput{Kind: linCreate, ID: "c", Title: "v"}, linOutput{Outcome: outOK, Version: 1, Title: "v"}),
		}, true},
		{"a cancelled imposition read as gone", []porcupine.Operation{impose,
			g(0, 20, 30, 0, linInput{Kind: linDelete, ID: "i"}, linOutput{Outcome: outOK}),
			g(1, 40, 50, 1, linInput{Kind: linStrongRead, ID: "i"}, linOutput{Outcome: outNotFound}),
		}, false},
		{"lin1 deletes what lin0 imposed", []porcupine.Operation{impose,
			g(1, 20, 30, 1, linInput{Kind: linDelete, ID: "i"}, linOutput{Outcome: outOK}),
		}, false},
	}...)
	// lin2 (Sub 0) proposes to lin3 (Sub 1) in their flat group's slot.
	propose := g(0, 0, 10, 0, linInput{Kind: linPropose, ID: "p", Title: "t0"}, linOutput{Outcome: outOK, Version: 1, Title: "t0", Status: "pending"})
	accept := g(1, 20, 30, 1, linInput{Kind: linAccept, ID: "p"}, linOutput{Outcome: outOK, Version: 3, Title: "t0", Status: "confirmed"})
	cases = append(cases, []struct {
		name string
		ops  []porcupine.Operation
		ok   bool
	}{
		{"a proposal: pending, free for lin3 until accepted, then confirmed and blocking", []porcupine.Operation{propose,
			g(1, 12, 14, 1, linInput{Kind: linStrongRead, ID: "p"}, linOutput{Outcome: outOK, Version: 1, Title: "t0", Status: "pending"}),
			g(2, 12, 14, 0, linInput{Kind: linCreate, ID: "c", Title: "v"}, linOutput{Outcome: outScheduleConflict}),
			accept,
			g(1, 40, 50, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outScheduleConflict}),
			g(0, 60, 70, 0, linInput{Kind: linDelete, ID: "p"}, linOutput{Outcome: outOK}),
			g(1, 80, 90, 1, linInput{Kind: linStrongRead, ID: "p"}, linOutput{Outcome: outOK, Version: 4, Title: "t0", Status: "cancelled"}),
			g(1, 80, 90, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 1, Title: "u"}),
		}, true},
		{"accepted over lin3's own appointment", []porcupine.Operation{propose,
			g(1, 12, 14, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 1, Title: "u"}),
			accept,
		}, false},
		{"refused for lin3's own appointment", []porcupine.Operation{propose,
			g(1, 12, 14, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 1, Title: "u"}),
			g(1, 20, 30, 1, linInput{Kind: linAccept, ID: "p"}, linOutput{Outcome: outScheduleConflict}),
		}, true},
		{"a decline cancels it, and frees lin2's time", []porcupine.Operation{propose,
			g(1, 20, 30, 1, linInput{Kind: linDecline, ID: "p", IfMatch: 1}, linOutput{Outcome: outOK, Version: 3, Title: "t0", Status: "cancelled"}),
			g(0, 40, 50, 0, linInput{Kind: linCreate, ID: "c", Title: "v"}, linOutput{Outcome: outOK, Version: 1, Title: "v"}),
			g(1, 40, 50, 1, linInput{Kind: linStrongRead, ID: "p"}, linOutput{Outcome: outOK, Version: 3, Title: "t0", Status: "cancelled"}),
		}, true},
		{"a stale If-Match accepted", []porcupine.Operation{propose,
			g(0, 12, 14, 0, linInput{Kind: linPatch, ID: "p", Title: "t1"}, linOutput{Outcome: outOK, Version: 2, Title: "t1"}),
			g(1, 20, 30, 1, linInput{Kind: linAccept, ID: "p", IfMatch: 1}, linOutput{Outcome: outOK, Version: 4, Title: "t1", Status: "confirmed"}),
		}, false},
		{"still pending after an acceptance", []porcupine.Operation{propose, accept,
			g(0, 40, 50, 0, linInput{Kind: linStrongRead, ID: "p"}, linOutput{Outcome: outOK, Version: 1, Title: "t0", Status: "pending"}),
		}, false},
		{"a proposal in event level 1's form (its participant an event of its own) starts at version 2", []porcupine.Operation{
			g(0, 0, 10, 0, linInput{Kind: linPropose, ID: "p", Title: "t0"}, linOutput{Outcome: outOK, Version: 2, Title: "t0", Status: "pending"}),
			g(1, 20, 30, 1, linInput{Kind: linAccept, ID: "p", IfMatch: 2}, linOutput{Outcome: outOK, Version: 4, Title: "t0", Status: "confirmed"}),
		}, true},
		{"a personal appointment never starts at version 2", []porcupine.Operation{
			g(1, 0, 10, 1, linInput{Kind: linCreate, ID: "b", Title: "u"}, linOutput{Outcome: outOK, Version: 2, Title: "u"}),
		}, false},
		{"lin3 changes lin2's proposal", []porcupine.Operation{propose,
			g(1, 20, 30, 1, linInput{Kind: linPatch, ID: "p", Title: "x"}, linOutput{Outcome: outOK, Version: 2, Title: "x"}),
		}, false},
	}...)
	for _, c := range cases {
		if got := porcupine.CheckOperations(linModel, c.ops); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}

// describeStuck writes where the checker got stuck on a failing slot: the
// end of the longest partial linearization, the state it leaves, and the
// operation that returned first among those it could not place.
func describeStuck(b *strings.Builder, part []porcupine.Operation, timeout time.Duration) {
	_, info := porcupine.CheckOperationsVerbose(linModel, part, timeout)
	var longest []porcupine.Operation
	for _, parts := range info.PartialLinearizationsOperations() {
		for _, l := range parts {
			if len(l) > len(longest) {
				longest = l
			}
		}
	}
	state := linModel.Init()
	placed := map[[2]int64]bool{}
	for _, op := range longest {
		_, state = linModel.Step(state, op.Input, op.Output)
		placed[[2]int64{op.Call, int64(op.ClientId)}] = true
	}
	fmt.Fprintf(b, "longest partial linearization: %d of %d operations; its last ones:\n", len(longest), len(part))
	for _, op := range longest[max(0, len(longest)-3):] {
		fmt.Fprintf(b, "    %s — %v\n", linModel.DescribeOperation(op.Input, op.Output), op.Metadata)
	}
	fmt.Fprintf(b, "state then: %s\n", linModel.DescribeState(state))
	var next *porcupine.Operation
	for i, op := range part {
		if !placed[[2]int64{op.Call, int64(op.ClientId)}] && (next == nil || op.Return < next.Return) {
			next = &part[i]
		}
	}
	if next != nil {
		fmt.Fprintf(b, "first unplaced operation to return: [%.3f, %.3f] %s — %v\n\n", float64(next.Call)/1e9, float64(next.Return)/1e9,
			linModel.DescribeOperation(next.Input, next.Output), next.Metadata)
	}
}
