package commands

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// Log is where commands propose batches: the Raft log.
type Log interface {
	Propose(ctx context.Context, b events.Batch) (events.Committed, error)
}

// ReadModel is what commands read to decide.
type ReadModel interface {
	UserByID(ctx context.Context, id string) (agenda.User, error)
	UserByUsername(ctx context.Context, username string) (agenda.User, error)
	Appointment(ctx context.Context, id, viewerID string) (agenda.Appointment, error)
	Schedule(ctx context.Context, userID string, start, end time.Time, exclude string) (agenda.Schedule, error)
	ScheduleVersion(ctx context.Context, userID string) (int64, error)
	Group(ctx context.Context, id, viewerID string) (agenda.Group, error)
	GroupInvitation(ctx context.Context, groupID, userID string) (agenda.GroupInvitation, error)
	EndedMembershipVersion(ctx context.Context, groupID, userID string) (int64, error)
	GroupParticipations(ctx context.Context, groupID, userID string, after time.Time) ([]agenda.Appointment, error)
	PendingGroupAppointments(ctx context.Context, groupID string, now time.Time) (int, error)
	PendingInvitations(ctx context.Context, groupID, userID string, now time.Time, limit int) (int, error)
	NotificationState(ctx context.Context, userID, id string) (agenda.NotificationState, error)
	WaitFor(ctx context.Context, position int64) error
}

// Handlers carries what every command handler needs.
type Handlers struct {
	Log    Log
	Read   ReadModel
	NodeID string
	// Now and NewID are replaceable for tests.
	Now   func() time.Time
	NewID func() string
	// BcryptCost is the cost of password hashes (bcrypt.DefaultCost if 0).
	BcryptCost int
	// MaxRetries bounds how often a command is decided again after a
	// version conflict (default 8).
	MaxRetries int
	// Fresh, if set, returns once the read model reflects every write
	// committed anywhere before the call (a read-index barrier), or fails
	// with EUNAVAILABLE when no quorum can vouch for that. A command that
	// would refuse (not found, conflict, ...), or find nothing to change,
	// on what it read calls it and decides again before answering: neither
	// may come from a read model that lags the cluster. (So an idempotent
	// repeat, a notification read again, waits for that barrier too, and
	// answers unavailable without a quorum.)
	Fresh func(ctx context.Context) error
	// FreshWait bounds each wait for Fresh (default 5 s, the HTTP layer's
	// read wait): a read index and the catch-up behind it end only when
	// reached or given up, and a request's context has no deadline of its
	// own, so a node that cannot catch up would otherwise hold a refusal,
	// and a registration's or a login's hashing slot, for as long as the
	// client waits.
	FreshWait time.Duration
	// Level returns the cluster's event level: the lowest that its nodes
	// announce (cluster.Agent.EventLevel). Commands write only forms every
	// node reads: below level 2, a group's creator joins by a
	// group.member_added and an appointment's participants by an
	// appointment.participant_added each, as older builds wrote them.
	// Without it, commands write what every build reads
	// (events.MinLevel): a forgotten wiring costs versions, never a
	// halted node.
	Level func() int

	dummyOnce sync.Once
	dummy     []byte

	// capped lowers the level for a while once the leader has refused a
	// form above its count of the level (see execute): this node's view
	// of the cluster has not caught up with the leader's yet.
	cappedMu sync.Mutex
	capped   int
	cappedTo time.Time
}

// levelCapFor is how long a leader's refusal lowers the level: longer
// than gossip takes to bring this node the same news.
const levelCapFor = 10 * time.Second

// New returns handlers with production defaults.
func New(log Log, read ReadModel, nodeID string) *Handlers {
	return &Handlers{Log: log, Read: read, NodeID: nodeID}
}

// level returns the event level the cluster reads (see Level).
func (h *Handlers) level() int {
	l := events.MinLevel
	if h.Level != nil {
		l = h.Level()
	}
	h.cappedMu.Lock()
	defer h.cappedMu.Unlock()
	if h.capped > 0 && time.Now().Before(h.cappedTo) {
		l = min(l, h.capped)
	}
	return l
}

// capLevel lowers the level to at most l for levelCapFor (on the wall
// clock, not Now: a test's fixed clock would make it last for ever). A
// cap in force that is lower stays.
func (h *Handlers) capLevel(l int) {
	h.cappedMu.Lock()
	defer h.cappedMu.Unlock()
	now := time.Now()
	if h.capped > 0 && now.Before(h.cappedTo) {
		l = min(l, h.capped)
	}
	h.capped, h.cappedTo = l, now.Add(levelCapFor)
}

func (h *Handlers) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

// newID returns a new appointment, group or event ID. They are UUIDv7:
// time-ordered, so consecutive inserts land on the last pages of every
// index keyed by them (events.id, streams, appointments, participants)
// instead of a random page each. On a three-node cluster under load that
// halved the bytes written to SQLite per command.
func (h *Handlers) newID() string {
	if h.NewID != nil {
		return h.NewID()
	}
	return uuid.Must(uuid.NewV7()).String()
}

// newUserID returns a new user's ID: a random UUID (version 4), not a
// time-ordered one. A user's ID is shown to everyone who finds them (a
// search, a group's members), and a UUIDv7 would tell them when the
// account was made, to the millisecond. Registrations are few, so their
// inserts landing on random pages costs nothing that shows.
func (h *Handlers) newUserID() string {
	if h.NewID != nil {
		return h.NewID()
	}
	return uuid.NewString()
}

// fresh calls Fresh, bounded by FreshWait: past it, the node could not
// confirm on fresh state, and says so (unavailable) rather than answer on
// state that may lag the cluster.
func (h *Handlers) fresh(ctx context.Context) error {
	wait := h.FreshWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := h.Fresh(fctx)
	if err != nil && ctx.Err() == nil && fctx.Err() != nil && agenda.ErrorCode(err) != agenda.EUNAVAILABLE {
		return agenda.Errorf(agenda.EUNAVAILABLE, "this node could not catch up with the cluster in time; retry shortly")
	}
	return err
}
