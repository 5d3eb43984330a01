package consensus_test

import (
	"strings"
	"testing"

	"github.com/agendahq/agenda/consensus"
)

// TestRecoverEras: which era each way of running `cluster recover` starts
// on a stopped node (consensus/DESIGN.md, "Eras"). Reviews found a retry
// that changed the era, and a copy of a volume recovered for a drill whose
// era would have stopped the cluster the copy came from.
func TestRecoverEras(t *testing.T) {
	n := mustStartNode(t)
	mustPropose(t, n, streamBatch(t, "stream-1", 0, 2))
	dir, store := n.cfg.Dir, n.store
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
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
	n2 := startNode(t, n.cfg, store)
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
