package consensus

import (
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestAcksCountOnlyTheServerMeantAcceptingInTerm pins what the read
// index's quorum proof counts: an AppendEntries answer counts for the peer
// raft addressed only if that same server accepted the request in the
// request's term. An address now served by another server (a node replaced
// under the same address) must not vote for the one raft meant.
func TestAcksCountOnlyTheServerMeantAcceptingInTerm(t *testing.T) {
	cases := []struct {
		name     string
		answerID string
		success  bool
		term     uint64
		want     int
	}{
		{"accepted by the server meant", "n2", true, 3, 1},
		{"answered by another server at that address", "n9", true, 3, 0},
		{"refused", "n2", false, 3, 0},
		{"answered from a newer term", "n2", true, 4, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			peer := mustTCPTransport(t)
			go func() {
				for rpc := range peer.Consumer() {
					if _, ok := rpc.Command.(*raft.AppendEntriesRequest); !ok {
						rpc.Respond(nil, io.ErrUnexpectedEOF)
						continue
					}
					rpc.Respond(&raft.AppendEntriesResponse{RPCHeader: raft.RPCHeader{ID: []byte(c.answerID)},
						Term: c.term, Success: c.success}, nil)
				}
			}()
			g := newGatedTransport(mustTCPTransport(t), &voteGate{}, "n1", nil)
			t.Cleanup(func() { g.Close() })
			start := g.acks.sent()
			var resp raft.AppendEntriesResponse
			req := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ID: []byte("n1"), Addr: []byte(g.LocalAddr())}, Term: 3}
			if err := g.AppendEntries("n2", peer.LocalAddr(), req, &resp); err != nil {
				t.Fatal(err)
			}
			if got, _ := g.acks.since(start, 3, []raft.ServerID{"n2"}); got != c.want {
				t.Fatalf("counted %d acceptances, want %d", got, c.want)
			}
		})
	}
}

func mustTCPTransport(t *testing.T) *raft.NetworkTransport {
	t.Helper()
	tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}
