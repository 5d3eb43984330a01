package commands

import (
	"context"
	"errors"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// Result is what a successful command reports.
type Result struct {
	// ID is the ID of the resource the command created or changed.
	ID string
	// Position is the global position of the command's last event; 0 if the
	// command found nothing to change and wrote nothing.
	Position int64
	// Appointment is the appointment as the command's own events left it
	// (as its actor sees it), for commands that change one; nil otherwise,
	// and when the command wrote nothing.
	Appointment *agenda.Appointment
	// User is the user as the command's own events left it, for commands
	// that register or change one.
	User *agenda.User
	// Group and Member are the group (as its actor sees it) and the one
	// membership the command changed, as its own events left them.
	Group  *agenda.Group
	Member *agenda.Member
}

// execute decides and proposes until the log accepts the decision or the
// decision itself fails. decide reads the read model and returns a batch
// (or a domain error). After a version conflict it waits until the read
// model has seen the write that moved the stream, and decides again.
func (h *Handlers) execute(ctx context.Context, id string, decide func() (*batch, error)) (Result, error) {
	retries := h.MaxRetries
	if retries <= 0 {
		retries = 8
	}
	confirmed := false
	refused := 0 // refusals for the level (see below)
	for attempt := 0; ; attempt++ {
		b, err := decide()
		if err != nil && !confirmed && h.Fresh != nil && refusesOnState(err) {
			// A follower's read model lags the leader by a replication
			// round, and a node cut off from the majority by much more:
			// confirm on state at least as fresh as the cluster's commit
			// index now, or answer unavailable rather than a stale refusal.
			confirmed = true
			if ferr := h.fresh(ctx); ferr != nil {
				return Result{}, ferr
			}
			attempt--
			continue
		}
		if err != nil {
			return Result{}, err
		}
		if b.empty() && !confirmed && h.Fresh != nil {
			// Nothing to change, on this node's state: which may lag a
			// change made elsewhere (the title set to what this write
			// asks, and since set to something else). Confirmed on fresh
			// state like a refusal, or the write would be lost.
			confirmed = true
			if ferr := h.fresh(ctx); ferr != nil {
				return Result{}, ferr
			}
			attempt--
			continue
		}
		if b.empty() { // nothing to change: the state read is the answer
			r := Result{ID: id}
			if b != nil {
				r.Appointment, r.User, r.Group, r.Member = b.appointment, b.user, b.group, b.member
			}
			return r, nil
		}
		if b.err != nil {
			return Result{}, b.err
		}
		c, err := h.propose(ctx, b.b)
		var vc *events.VersionConflictError
		var al *events.AboveLevelError
		if errors.As(err, &al) {
			// The leader counts a lower level than this node's view (a
			// node joined or restarted on an older build, and gossip has
			// not said so here yet): decide again at its level. Each
			// refusal lowers the level, so few can follow; they do not
			// spend the budget of version conflicts.
			if refused++; refused > 3 {
				return Result{}, agenda.Errorf(agenda.EUNAVAILABLE, "the cluster's nodes disagree on which events they read (a rolling update is under way); retry")
			}
			h.capLevel(al.Level)
			attempt--
			continue
		}
		if errors.As(err, &vc) {
			if attempt >= retries {
				// Named in the refusal's X-Agenda-Position, so that a
				// read with it shows the change that won: not waited
				// for here, since a registration or a password change
				// holds a hashing slot meanwhile.
				return Result{}, agenda.Errorf(agenda.ECONFLICT, "too many concurrent changes; retry").At(vc.Position)
			}
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			werr := h.Read.WaitFor(wctx, vc.Position)
			cancel()
			if werr != nil {
				return Result{}, werr
			}
			continue
		}
		if err != nil {
			return Result{}, err
		}
		return Result{ID: id, Position: c.LastPosition, Appointment: b.appointment, User: b.user,
			Group: b.group, Member: b.member}, nil
	}
}

// propose hands b to the log. If the outcome is unknown (leadership lost
// mid-commit) it proposes the same batch again: a duplicate answer then
// means the first attempt did commit, and a version conflict that it did
// not (duplicates are checked first). Any other failure of a retry leaves
// the outcome unknown, and the client is told so rather than invited to
// retry blindly.
func (h *Handlers) propose(ctx context.Context, b events.Batch) (events.Committed, error) {
	unknown := agenda.Errorf(agenda.EUNAVAILABLE, "the cluster lost its leader while writing; the write may or may not have happened: read before retrying").
		WithDetails(map[string]any{"outcome": "unknown"})
	for attempt := 0; ; attempt++ {
		c, err := h.Log.Propose(ctx, b)
		var dup *events.DuplicateEventError
		var vc *events.VersionConflictError
		switch {
		case err == nil:
			return c, nil
		case errors.As(err, &dup) && attempt > 0 && dup.EventID == b.Events[0].ID:
			return events.Committed{FirstPosition: dup.Position, LastPosition: dup.Position + int64(len(b.Events)) - 1}, nil
		case errors.As(err, &vc):
			return c, err
		case errors.As(err, new(*events.AboveLevelError)) && attempt == 0:
			// Nothing was proposed: execute decides again. (On a retry
			// the first attempt may have committed: unknown, below.)
			return c, err
		case errors.Is(err, events.ErrBatchTooLarge):
			return c, agenda.Errorf(agenda.ETOOLARGE, "this change would write %d events at once, more than one change may hold (%d MiB): make it smaller first, for instance by cancelling some of the appointments it touches", len(b.Events), events.MaxBatchBytes>>20).
				WithDetails(map[string]any{"events": len(b.Events), "max_bytes": events.MaxBatchBytes})
		case errors.Is(err, events.ErrUnknownType):
			// The leader runs an older build that cannot read an event
			// this one writes: a rolling update is under way.
			return c, agenda.Errorf(agenda.EUNAVAILABLE, "the leader cannot read this change yet (it runs an older build); retry once the update is done")
		case errors.Is(err, events.ErrIllegalTransition):
			// Decided on state the log has moved past in a way the
			// expected versions could not tell (see events.CheckLifecycle).
			// The log refused it on the leader's state: this node's read
			// model catches up with the cluster first, if it can within
			// two seconds, so that the refusal's X-Agenda-Position shows
			// the change that made it, as "read it again" promises.
			if h.Fresh != nil {
				fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_ = h.fresh(fctx) // the refusal stands either way
				cancel()
			}
			return c, agenda.Errorf(agenda.ECONFLICT, "this change no longer applies: the resource changed meanwhile; read it again")
		case errors.Is(err, events.ErrOutcomeUnknown) && attempt < 5:
			select {
			case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
			case <-ctx.Done():
				return c, unknown
			}
		case errors.Is(err, events.ErrOutcomeUnknown), attempt > 0:
			return c, unknown
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return c, agenda.Errorf(agenda.EUNAVAILABLE, "timed out waiting for the cluster to commit")
		default:
			return c, err
		}
	}
}

// refusesOnState reports whether err is a refusal that depends on what the
// command read (rather than on its input alone), so that a fresher read
// could change it.
func refusesOnState(err error) bool {
	switch agenda.ErrorCode(err) {
	case agenda.ENOTFOUND, agenda.EFORBIDDEN, agenda.ECONFLICT, agenda.ESCHEDULECONFLICT, agenda.EPRECONDITIONFAILED:
		return true
	}
	return false
}
