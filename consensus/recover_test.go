package consensus_test

import (
	"cmp"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/eventstore"
)

// TestRecoverEras: which era each way of running `cluster recover` starts
// on a stopped node (consensus/DESIGN.md, "Eras"). Reviews found a retry
// that changed the era, and a copy of a volume recovered for a drill whose
// era would have stopped the cluster the copy came from.
func TestRecoverEras(t *testing.T) {
	dir, store, cfg := stoppedNode(t)
	self := []consensus.Server{{ID: "node-1", Address: "127.0.0.1:1"}}
	both := append(self, consensus.Server{ID: "node-2", Address: "127.0.0.1:2"})
	recoverAs := func(servers []consensus.Server, opts consensus.RecoverOptions) (consensus.Era, error) {
		t.Helper()
		return consensus.Recover(dir, "node-1", servers, opts, store, quietLogger)
	}
	descends := func(e consensus.Era, id [16]byte) bool {
		for i := 0; i+16 <= len(e.Ancestors); i += 16 {
			if e.Ancestors[i:i+16] == string(id[:]) {
				return true
			}
		}
		return false
	}

	first, err := recoverAs(self, consensus.RecoverOptions{})
	if err != nil || first.IsZero() || !first.Recovered || !descends(first, [16]byte{}) {
		t.Fatalf("first recover: %+v, %v; want an era recovered from the zero era", first, err)
	}
	if again, err := recoverAs(self, consensus.RecoverOptions{}); err != nil || again != first {
		t.Fatalf("the same recover retried: %v, %v; want the same era %v", again, err, first)
	}
	wrong, err := recoverAs(both, consensus.RecoverOptions{})
	if err != nil || wrong == first || !descends(wrong, first.ID) {
		t.Fatalf("another list after the first: %v, %v; want an era recovered from %v", wrong, err, first)
	}
	corrected, err := recoverAs(self, consensus.RecoverOptions{Correct: true})
	if err != nil || corrected != first {
		t.Fatalf("-correct back to the first list: %v, %v; want %v, the era the first run made", corrected, err, first)
	}
	if _, err := recoverAs(self, consensus.RecoverOptions{Correct: true, Restored: true}); err == nil {
		t.Fatal("-correct with -restored: no error")
	}
	copied, err := recoverAs(self, consensus.RecoverOptions{Restored: true})
	if err != nil || copied.IsZero() || copied.Recovered || copied.Ancestors != "" {
		t.Fatalf("-restored: %+v, %v; want an era of its own that supersedes nobody", copied, err)
	}

	// Once the node has run, -correct is refused and changes nothing.
	n2 := startNode(t, cfg, store)
	mustPropose(t, n2, streamBatch(t, "stream-2", 0, 1))
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := recoverAs(both, consensus.RecoverOptions{Correct: true}); err == nil || !strings.Contains(err.Error(), "has run since") {
		t.Fatalf("-correct after the node ran: %v, want a refusal saying so", err)
	}
}

// TestLogEndBeyond: Raft's order, the one votes go by.
func TestLogEndBeyond(t *testing.T) {
	for _, c := range []struct {
		a, b consensus.LogEnd
		want bool
	}{
		{consensus.LogEnd{Index: 10, Term: 3}, consensus.LogEnd{Index: 9, Term: 3}, true},
		{consensus.LogEnd{Index: 9, Term: 3}, consensus.LogEnd{Index: 10, Term: 3}, false},
		{consensus.LogEnd{Index: 5, Term: 4}, consensus.LogEnd{Index: 10, Term: 3}, true},
		{consensus.LogEnd{Index: 10, Term: 3}, consensus.LogEnd{Index: 5, Term: 4}, false},
		{consensus.LogEnd{Index: 7, Term: 3}, consensus.LogEnd{Index: 7, Term: 3}, false},
	} {
		if got := c.a.Beyond(c.b); got != c.want {
			t.Errorf("%+v beyond %+v: %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestRecoverAfterAConfigurationEntry: the survivor's store last applied a
// configuration entry (a membership change), after its last snapshot.
// RecoverCluster restores the node's own snapshot, behind the store, and
// hands the FSM the log's commands only: a code review saw the store left
// marked unproven, and the recovered node halt at its first write, telling
// the operator to move aside the only copy; with a command after the
// configuration entry that was never committed, the recover itself
// panicked, every time. Now a recover applies the whole log itself, and
// the node's own snapshots mark nothing. The snapshot the recover takes
// says the store applied the log's last configuration entry too, committed
// or not (RecoverCluster applies commands only): the node sends it to every
// node that joins, and one whose store applied that entry would otherwise
// take it for another history.
func TestRecoverAfterAConfigurationEntry(t *testing.T) {
	for _, tail := range []string{"", "command", "configuration"} {
		t.Run("uncommitted "+cmp.Or(tail, "nothing"), func(t *testing.T) {
			n := mustStartNode(t)
			mustPropose(t, n, streamBatch(t, "s", 0, 2))
			if err := n.Snapshot(); err != nil {
				t.Fatal(err)
			}
			mustPropose(t, n, streamBatch(t, "s", 2, 1))
			if err := n.AddNonvoter("node-9", "127.0.0.1:9"); err != nil {
				t.Fatal(err)
			}
			dir, store, cfg := n.cfg.Dir, n.store, n.cfg
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			next, last := int64(3), uint64(0)
			var err error
			switch tail {
			case "command":
				last, err = consensus.AppendCommand(dir, streamBatch(t, "s", 3, 1))
				next = 4
			case "configuration":
				last, err = consensus.AppendConfiguration(dir, "node-1", "node-8")
			}
			if err != nil {
				t.Fatal(err)
			}
			era, err := consensus.Recover(dir, "node-1", []consensus.Server{{ID: "node-1", Address: "127.0.0.1:1"}}, consensus.RecoverOptions{}, store, quietLogger)
			if err != nil {
				t.Fatalf("recover: %v", err)
			}
			if u, err := store.Unproven(context.Background()); err != nil || u != 0 {
				t.Fatalf("unproven after the recover: %d, %v; want 0", u, err)
			}
			if applied, _, err := store.Applied(context.Background()); err != nil || applied < last {
				t.Fatalf("the store applied %d after the recover (%v); want the log's last entry, %d", applied, err, last)
			}
			// The new era's terms are above any its survivors' logs hold.
			if term, err := consensus.CurrentTerm(dir); err != nil || term < era.Gen<<40 {
				t.Fatalf("current term after the recover: %d, %v; want at least %d", term, err, era.Gen<<40)
			}
			cfg.Bootstrap = false
			n = startNode(t, cfg, store)
			mustPropose(t, n, streamBatch(t, "s", next, 1))
			if st := n.Status(); st.Term <= era.Gen<<40 {
				t.Errorf("the recovered node leads in term %d, want above %d", st.Term, era.Gen<<40)
			}
		})
	}
}

// TestRecoverRaisesTheTermPastEveryEra: every recover moves the node's
// term to a band of 2⁴⁰ terms above any it reached, -restored and -correct
// included, whose eras start their generations again or go back one (a
// code review saw the floor fall below the terms the node had reached, and
// the new era's first leader elected in a term a survivor held entries of).
func TestRecoverRaisesTheTermPastEveryEra(t *testing.T) {
	dir, store, _ := stoppedNode(t)
	self := []consensus.Server{{ID: "node-1", Address: "127.0.0.1:1"}}
	both := append(self, consensus.Server{ID: "node-2", Address: "127.0.0.1:2"})
	term, err := consensus.CurrentTerm(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name    string
		servers []consensus.Server
		opts    consensus.RecoverOptions
	}{
		{"recover", self, consensus.RecoverOptions{}},
		{"restored", self, consensus.RecoverOptions{Restored: true}},
		{"recover after a restored era", self, consensus.RecoverOptions{}},
		{"another list", both, consensus.RecoverOptions{}},
		{"corrected", self, consensus.RecoverOptions{Correct: true}},
	} {
		if _, err := consensus.Recover(dir, "node-1", step.servers, step.opts, store, quietLogger); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		next, err := consensus.CurrentTerm(dir)
		if want := (term>>40 + 1) << 40; err != nil || next < want {
			t.Fatalf("%s: current term %d (%v), want at least %d, the band above %d", step.name, next, err, want, term)
		}
		term = next
	}
}

// TestRecoveredNodeUnprovenUntilItHearsALeader: a node started from a
// recover, its log where the recover left it, serves nothing until a
// leader's entries reach it (its fellow survivors may hold another
// history): a fault review read such a survivor's writes through plain
// reads while it could not even take the leader's snapshot. Recovered
// alone, it leads and serves.
func TestRecoveredNodeUnprovenUntilItHearsALeader(t *testing.T) {
	for _, alone := range []bool{false, true} {
		dir, store, cfg := stoppedNode(t)
		servers := []consensus.Server{{ID: "node-1", Address: "127.0.0.1:1"}}
		if !alone {
			servers = append(servers, consensus.Server{ID: "node-2", Address: "127.0.0.1:2"})
		}
		if _, err := consensus.Recover(dir, "node-1", servers, consensus.RecoverOptions{}, store, quietLogger); err != nil {
			t.Fatal(err)
		}
		cfg.Bootstrap = false
		r, err := consensus.Open(cfg, store)
		if err != nil {
			t.Fatal(err)
		}
		if !alone {
			time.Sleep(500 * time.Millisecond)
			if !r.Unproven() || r.CaughtUp() {
				t.Errorf("a survivor recovered with another, before any leader: unproven %v, caught up %v; want unproven", r.Unproven(), r.CaughtUp())
			}
		} else {
			for deadline := time.Now().Add(10 * time.Second); r.Unproven(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("a survivor recovered alone still unproven 10 s after it started")
				}
			}
		}
		r.Close()
	}
}

// stoppedNode is a single node that took a write and was stopped: its Raft
// directory, its event store and its configuration.
func stoppedNode(t *testing.T) (dir string, store *eventstore.Store, cfg consensus.Config) {
	t.Helper()
	n := mustStartNode(t)
	mustPropose(t, n, streamBatch(t, "s", 0, 1))
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	return n.cfg.Dir, n.store, n.cfg
}
