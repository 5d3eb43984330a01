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
)

func (k linKind) String() string {
	return [...]string{"create", "patch", "delete", "read(strong)", "read"}[k]
}

// linInput is an operation as sent.
type linInput struct {
	Kind linKind
	// Slot is the partition key: user and slot.
	Slot string
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
)

func (o linOutcome) String() string {
	return [...]string{"ok", "committed", "404", "412", "409 schedule_conflict", "illegal"}[o]
}

// linOutput is an answer as the model sees it.
type linOutput struct {
	Outcome linOutcome
	Version int64
	Title   string
	// Note explains an outIllegal answer.
	Note string
}

// slotState is one slot: its live appointment, if any. Comparable, so
// porcupine's default equality works.
type slotState struct {
	ID      string
	Version int64
	Title   string
}

// linStep is the model's step function.
func linStep(st slotState, in linInput, out linOutput) (bool, slotState) {
	if out.Outcome == outIllegal {
		return false, st
	}
	live := st.ID != "" && in.ID == st.ID
	matches := in.IfMatch == 0 || in.IfMatch == st.Version
	switch in.Kind {
	case linCreate:
		switch out.Outcome {
		case outOK:
			ok := st.ID == "" && out.Version == 1 && out.Title == in.Title
			return ok, slotState{ID: in.ID, Version: 1, Title: in.Title}
		case outCommitted:
			return st.ID == "", slotState{ID: in.ID, Version: 1, Title: in.Title}
		case outScheduleConflict:
			return st.ID != "", st
		}
	case linPatch:
		switch out.Outcome {
		case outOK:
			ok := live && matches && out.Version == st.Version+1 && out.Title == in.Title
			return ok, slotState{ID: st.ID, Version: st.Version + 1, Title: in.Title}
		case outCommitted:
			return live && matches, slotState{ID: st.ID, Version: st.Version + 1, Title: in.Title}
		case outNotFound:
			return !live, st
		case outPrecondition:
			return live && !matches, st
		}
	case linDelete:
		switch out.Outcome {
		case outOK, outCommitted:
			return live && matches, slotState{}
		case outNotFound:
			return !live, st
		case outPrecondition:
			return live && !matches, st
		}
	case linStrongRead:
		switch out.Outcome {
		case outOK:
			return live && out.Version == st.Version && out.Title == st.Title, st
		case outNotFound:
			return !live, st
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
		if st.ID == "" {
			return "free"
		}
		return fmt.Sprintf("%s v%d %q", short(st.ID), st.Version, st.Title)
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
