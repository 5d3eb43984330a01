package consensus

// Status is a summary of the node's Raft state.
type Status struct {
	NodeID       string
	State        string
	LeaderID     string
	LeaderAddr   string
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	Servers      []Server
}

// Server is one member of the Raft configuration.
type Server struct {
	ID       string
	Address  string
	Suffrage string
}

// Status returns the node's current Raft state.
func (n *Node) Status() Status {
	lid, laddr := n.Leader()
	s := Status{
		NodeID:       n.cfg.NodeID,
		State:        n.raft.State().String(),
		LeaderID:     lid,
		LeaderAddr:   laddr,
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(),
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			s.Servers = append(s.Servers, Server{ID: string(srv.ID), Address: string(srv.Address), Suffrage: srv.Suffrage.String()})
		}
	}
	return s
}

// LogSpan is how many indexes the Raft log store spans, first to last: what
// compaction has not yet removed behind the last snapshot, and what came
// since (0 if empty or closed). It is the log's size as compaction keeps it,
// with one exception: a follower that installed a snapshot keeps its old
// tail below it, and the span counts the gap between them until its own
// next compaction removes that tail.
func (n *Node) LogSpan() uint64 {
	first, err1 := n.logStore.FirstIndex()
	last, err2 := n.logStore.LastIndex()
	if err1 != nil || err2 != nil || first == 0 || last < first {
		return 0
	}
	return last - first + 1
}
