package consensus_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
)

func TestOpenRejectsEmptyNodeID(t *testing.T) {
	dir := t.TempDir()
	store := mustOpenStoreAt(t, filepath.Join(dir, "events.db"))
	cfg := nodeConfig(filepath.Join(dir, "raft"))
	cfg.NodeID = ""
	n, err := consensus.Open(cfg, store)
	if err == nil {
		n.Close()
		t.Fatal("Open with an empty node ID: got no error, want one")
	}
}

func TestStatusOfSingleNode(t *testing.T) {
	n := mustStartNode(t)
	st := n.Status()
	if st.NodeID != "node-1" || st.State != "Leader" || st.LeaderID != "node-1" {
		t.Fatalf("status: got %+v, want node-1 leading itself", st)
	}
	if st.LeaderAddr != n.RaftAddr() {
		t.Errorf("leader address: got %s, want %s", st.LeaderAddr, n.RaftAddr())
	}
	if len(st.Servers) != 1 || st.Servers[0].ID != "node-1" || st.Servers[0].Suffrage != "Voter" {
		t.Errorf("servers: got %+v, want node-1 as the only voter", st.Servers)
	}
}

func TestCloseLeavesStoreOpen(t *testing.T) {
	n := mustStartNode(t)
	mustPropose(t, n, streamBatch(t, "a", 0, 1))
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The node does not own the store.
	if got := mustReadAll(t, n.store); len(got) != 1 {
		t.Fatalf("store after node Close: got %d events, want 1", len(got))
	}
	// The raft directory holds the log and the snapshot dir.
	for _, name := range []string{"wal", "snapshots"} {
		if _, err := os.Stat(filepath.Join(n.cfg.Dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestErrorsAreUnavailable(t *testing.T) {
	for _, err := range []error{consensus.ErrNotLeader, consensus.ErrNoLeader, consensus.ErrShutdown} {
		if got := agenda.ErrorCode(err); got != agenda.EUNAVAILABLE {
			t.Errorf("%v: code %q, want %q", err, got, agenda.EUNAVAILABLE)
		}
		if !strings.Contains(err.Error(), "retry") && err != consensus.ErrShutdown {
			t.Errorf("%v: want the message to tell the client to retry", err)
		}
	}
}
