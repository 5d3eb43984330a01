package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
)

// A backup on a node whose cluster has lost its majority was refused with
// raft's "this node is not the leader; retry shortly", which told the
// operator nothing of why (a review), and so was a removal. Other refusals
// keep their own words.
func TestUnconfirmedSaysWhy(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{consensus.ErrNotLeader, "no leader answered"},
		{fmt.Errorf("barrier: %w", consensus.ErrNoLeader), "no leader answered"},
		{agenda.Errorf(agenda.EUNAVAILABLE, "not caught up with the cluster yet"), "not caught up with the cluster yet"},
	} {
		if got := unconfirmed(c.err); !strings.Contains(got, c.want) || strings.Contains(got, "not the leader") {
			t.Errorf("unconfirmed(%v) = %q, want it to say %q", c.err, got, c.want)
		}
		if got := removeRefusal("n3", c.err).Error(); !strings.Contains(got, c.want) || strings.Contains(got, "not the leader") {
			t.Errorf("removeRefusal(%v) = %q, want it to say %q", c.err, got, c.want)
		}
	}
}
