package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

// ForwardTimeout bounds one forwarded proposal, so that a leader that went
// silent (a partition that drops packets) costs a bounded wait; the leader
// gives its own Raft a little less (proposeTimeout). A large batch gets more
// (forwardTimeout): a review's 15 MiB took a single node a second to
// commit, and a loaded cluster several.
const (
	ForwardTimeout = 5 * time.Second
	proposeMargin  = 500 * time.Millisecond
)

// forwardTimeout is ForwardTimeout plus 200 ms a MiB of the batch's body.
func forwardTimeout(bodyBytes int64) time.Duration {
	return ForwardTimeout + time.Duration(bodyBytes>>20)*200*time.Millisecond
}

// LeaderWait bounds how long a forwarded request waits for a leader to be
// known (and reachable) before it answers unavailable.
const LeaderWait = 2 * time.Second

var errUnknownNode = agenda.Errorf(agenda.ENOTFOUND, "no such node in the cluster")

// errRemoved refuses a join from a node removed on request, until it
// restarts.
var errRemoved = agenda.Errorf(agenda.EFORBIDDEN, "this node was removed from the cluster; restart it to rejoin")

// errUnavailable is what a caller gets when no leader could be reached in
// LeaderWait: the HTTP layer answers 503 with Retry-After.
var errUnavailable = agenda.Errorf(agenda.EUNAVAILABLE, "no leader is reachable; retry shortly")

// leaderHTTP returns the ID and HTTP address of the leader this node's Raft
// knows.
func (a *Agent) leaderHTTP() (id, addr string, err error) {
	id, _ = a.raft.Leader()
	if id == "" {
		// A node that is not (yet) a member has no leader of its own: use
		// the one its peers report.
		for _, m := range a.members.Direct(time.Now().Add(-5 * time.Second)) {
			if m.LeaderID != "" && m.ID != a.cfg.Self.ID {
				id = m.LeaderID
				break
			}
		}
	}
	if id == "" {
		return "", "", consensus.ErrNoLeader
	}
	if id == a.cfg.Self.ID {
		return "", "", consensus.ErrNotLeader // stale: we were, we are not
	}
	addr = a.members.HTTPAddr(id)
	if addr == "" {
		return "", "", errNoLeaderAddr
	}
	return id, addr, nil
}

// retryable reports whether err means "no leader to talk to right now":
// the request was not handled and may be sent again.
func retryable(err error) bool {
	var ue *url.Error
	return NoLeader(err) || errors.Is(err, errNoLeaderAddr) || errors.As(err, &ue) || isBusy(err)
}

// isBusy reports whether err is the leader refusing a request for want of
// a free slot (Signer.Require): refused before handling, worth another try.
func isBusy(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == http.StatusServiceUnavailable
}

// retryLeader runs attempt until it succeeds, fails for good, or LeaderWait
// passes; attempt says whether its failure is worth another try.
func retryLeader(ctx context.Context, attempt func() (retry bool, err error)) error {
	deadline := time.Now().Add(LeaderWait)
	for {
		retry, err := attempt()
		if err == nil || !retry {
			return err
		}
		if time.Now().After(deadline) {
			return errors.Join(errUnavailable, err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(errUnavailable, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// withWroteHook calls wrote once the request has been written to a
// connection: from then on a transport failure leaves its fate unknown.
func withWroteHook(ctx context.Context, wrote func()) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: wrote,
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote() },
	})
}

// Propose implements commands.Log for any node: the leader proposes
// locally; a follower forwards the batch, signed, to the leader's
// /internal/propose (or, with others queued behind it, to
// /internal/propose-group: forward_group.go) and returns its verdict as if
// it had been local. While there is no leader, or the leader changes
// before the batch was sent, it retries for up to LeaderWait, then answers
// unavailable. A failure after the batch may have reached the leader is
// events.ErrOutcomeUnknown: the command proposes the same batch again, and
// event IDs make that safe.
func (a *Agent) Propose(ctx context.Context, b events.Batch) (events.Committed, error) {
	var c events.Committed
	var body []byte
	err := retryLeader(ctx, func() (bool, error) {
		if a.raft.IsLeader() {
			var err error
			c, err = a.proposeHere(ctx, b)
			return NoLeader(err), err
		}
		dest, addr, err := a.leaderHTTP()
		if err != nil {
			return true, err
		}
		if body == nil {
			// Encoded once, and refused alike on every node when too
			// large (the leader's Propose checks the same bytes).
			if body, err = json.Marshal(b); err != nil {
				return false, err
			}
			if err := events.CheckBatchSize(b, len(body)); err != nil {
				return false, err
			}
		}
		fctx, cancel := context.WithTimeout(ctx, forwardTimeout(int64(len(body))))
		began := time.Now()
		out, sent, err := a.forwarder.forward(fctx, dest, addr, body)
		cancel()
		if a.cfg.OnForward != nil {
			a.cfg.OnForward(time.Since(began), err)
		}
		switch {
		case err == nil:
			c = events.Committed{FirstPosition: out.FirstPosition, LastPosition: out.LastPosition, Index: out.Index}
			return false, nil
		case errors.As(err, new(*lostAnswer)):
			// The leader may have committed it and said so: the answer
			// was lost on the way, not the write.
			return false, errors.Join(events.ErrOutcomeUnknown, err)
		case errors.Is(err, consensus.ErrNotLeader), errors.Is(err, consensus.ErrNoLeader):
			return true, err // refused before proposing
		case errors.Is(err, consensus.ErrShutdown):
			return false, events.ErrOutcomeUnknown // the leader stopped, maybe mid-commit
		case isTransport(err) && !sent:
			return true, err
		case isTransport(err):
			if ctx.Err() != nil {
				return false, events.ErrOutcomeUnknown
			}
			return false, errors.Join(events.ErrOutcomeUnknown, err)
		}
		if isBusy(err) {
			return true, err // refused before proposing: too many in flight
		}
		var se *statusError
		if errors.As(err, &se) {
			// Refused before handling (e.g. the leader does not accept our
			// signature): nothing was proposed.
			a.logger.WarnContext(ctx, "leader refused a forwarded write", "leader_addr", addr, "err", err)
			return false, errors.Join(errUnavailable, err)
		}
		return false, err
	})
	return c, err
}

func isTransport(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

// ReadIndex returns a commit index safe for a linearizable read: the
// leader's own, or the one the leader answers on /internal/read-index.
func (a *Agent) ReadIndex(ctx context.Context) (uint64, error) {
	var idx uint64
	err := retryLeader(ctx, func() (bool, error) {
		if a.raft.IsLeader() {
			var err error
			idx, err = a.raft.ReadIndex(ctx)
			return errors.Is(err, consensus.ErrNotLeader), err
		}
		dest, addr, err := a.leaderHTTP()
		if err != nil {
			return true, err
		}
		var out readIndexWire
		rctx, cancel := context.WithTimeout(ctx, ForwardTimeout)
		_, err = a.callSent(rctx, dest, addr, "/internal/read-index", struct{}{}, &out)
		cancel()
		idx = out.Index
		return retryable(err), err
	})
	if err != nil && agenda.ErrorCode(err) != agenda.EUNAVAILABLE {
		err = errors.Join(errUnavailable, err)
	}
	return idx, err
}

// errRefusedHistory answers every request on a node whose history the
// cluster refused.
var errRefusedHistory = agenda.Errorf(agenda.EUNAVAILABLE, "this node's data is not the cluster's history as its leader sees it; it serves nothing until a leader admits it (if it holds another cluster's data, move its data dir aside)")

// Fence returns errRefusedHistory while the cluster refuses this node's
// history, a superseded error once a later era left it out,
// errRemovedServing while it was removed on request, nil otherwise.
func (a *Agent) Fence() error {
	if a.Refused() {
		return errRefusedHistory
	}
	if s := a.raft.Superseded(); s != nil {
		return SupersededError(s)
	}
	if a.Removed() {
		return errRemovedServing
	}
	if a.raft.Unproven() {
		return errUnprovenServing
	}
	return nil
}

// errUnprovenServing answers every API request on a node that cannot yet
// tell its store from a history the cluster did not keep
// (consensus.Node.Unproven): only the leader's next entries can, so it
// serves none of them, strong or not (a fault review read such writes
// through plain reads).
var errUnprovenServing = agenda.Errorf(agenda.EUNAVAILABLE, "this node is checking that the entries it applied are the cluster's "+
	"(after a recover, or with a store ahead of the leader's snapshot): it serves nothing until the leader's next entries show it, or it stops saying why; retry on another node")

// SupersededError answers every API request on a node a later era of its
// cluster left out (consensus/era.go): its data is a history the cluster
// no longer follows.
func SupersededError(s *consensus.Superseded) error {
	return agenda.Errorf(agenda.EUNAVAILABLE, "this node was left out of its cluster by a cluster recover (node %s proved era %s): "+
		"its data is a history the cluster no longer follows, and it serves nothing. %s", s.Peer, s.Token, consensus.SupersededAdvice)
}

// errRemovedServing answers every API request on a node removed on
// request while it ran.
var errRemovedServing = agenda.Errorf(agenda.EUNAVAILABLE, "this node was removed from the cluster (agenda cluster remove-node): it serves nothing; restart it to join again, or stop it")

// ReadBarrier waits until this node can serve a linearizable read: it gets
// a read index from the leader, waits for the local FSM to apply it, then
// for the read model to project everything the store holds at that point
// (position() and waitProjected). Without a reachable leader it answers
// unavailable, never a stale read.
func (a *Agent) ReadBarrier(ctx context.Context, position func() int64, waitProjected func(context.Context, int64) error) error {
	if a.Refused() {
		return errRefusedHistory
	}
	idx, err := a.ReadIndex(ctx)
	if err != nil {
		return err
	}
	if err := a.raft.WaitApplied(ctx, idx); err != nil {
		return agenda.Errorf(agenda.EUNAVAILABLE, "this node has not caught up with the leader yet; retry shortly")
	}
	if err := waitProjected(ctx, position()); err != nil {
		return agenda.Errorf(agenda.EUNAVAILABLE, "this node's read model has not caught up yet; retry shortly")
	}
	return nil
}

var errNoLeaderAddr = errors.New("the leader's HTTP address is not known yet")
