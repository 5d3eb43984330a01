package main

import "github.com/agendahq/agenda"

// errRebuilding answers API requests on a node that discarded a store at
// start and has not caught up yet.
var errRebuilding = agenda.Errorf(agenda.EUNAVAILABLE, "this node is rebuilding its stores from the cluster's history "+
	"(it started empty, lost them, or discarded them: its machine stopped while they were written, or its read model's schema changed): "+
	"it serves nothing until it has caught up; retry shortly or on another node")

// fence is the API's fence (agendahttp.Server.Fence): the cluster agent's
// (a node the cluster refused, left out or removed, or one not yet proven),
// and, while the node rebuilds stores it discarded or lost at start, or
// fills empty ones to join a cluster, errRebuilding.
//
// A rebuilding node's read model holds only part of what it acknowledged:
// a plain read there answered 404 for an acknowledged appointment, and an
// agenda without it (an outside fault test, after a crash of the machine
// under a store of 200,000 appointments: 2–8 s before /readyz said ready).
// A node that merely trails (a follower behind, or back from a short
// absence) still serves plain reads: what it shows is a moment old, not
// missing, and min_position waits for more.
func (n *Node) fence() error {
	if err := n.agent.Fence(); err != nil {
		return err
	}
	if n.rebuilding.Load() {
		done := n.rebuilt
		if done == nil {
			// Caught up once since start (as /readyz or its sampler saw
			// it), or now: a lag after that is a lag, as readiness has it.
			done = func() bool { return n.ready.caughtUp.Load() != 0 || nodeStatus{n}.strictReadiness().Ready }
		}
		if !done() {
			return errRebuilding
		}
		n.rebuilding.Store(false)
	}
	return nil
}
