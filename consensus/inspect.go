package consensus

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// LogEnd is how far a stopped node's Raft log goes. After a majority is
// lost for good, the survivor to recover is the one whose log goes
// furthest, and the others join it empty: survivors recovered together
// with logs of different ends lose or refuse writes (fsm.checkHistory).
type LogEnd struct {
	// Index and Term are those of the last entry the node's log or
	// snapshots hold.
	Index, Term uint64
	// Voters are the voters of the last configuration it holds.
	Voters []string
	// Era is the node's era (era.go).
	Era Era
}

// Beyond reports whether e's log goes further than o's, in Raft's own
// order (the one votes go by): the later last term, then the higher last
// index.
func (e LogEnd) Beyond(o LogEnd) bool {
	if e.Term != o.Term {
		return e.Term > o.Term
	}
	return e.Index > o.Index
}

// InspectLog reads how far the Raft log in dir (a stopped node's Raft
// directory) goes. Like Recover, it opens the log exclusively: the caller
// holds the data dir's lock.
func InspectLog(dir string) (LogEnd, error) {
	logs, snaps, err := openStopped(dir)
	if err != nil {
		return LogEnd{}, fmt.Errorf("consensus: %w", err)
	}
	defer logs.Close()
	var end LogEnd
	if _, end.Era, err = readEra(dir); err != nil {
		return LogEnd{}, err
	}
	if end.Index, end.Term, err = lastRaftEntry(logs, snaps); err != nil {
		return LogEnd{}, err
	}
	conf, err := lastConfiguration(logs, snaps)
	if err != nil {
		return LogEnd{}, fmt.Errorf("read the last configuration: %w", err)
	}
	for _, s := range conf.Servers {
		if s.Suffrage == raft.Voter {
			end.Voters = append(end.Voters, string(s.ID))
		}
	}
	return end, nil
}
