package cluster

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/throttle"
)

// Raft is the consensus node as the cluster agent uses it
// (*consensus.Node).
type Raft interface {
	ID() string
	RaftAddr() string
	IsLeader() bool
	Leader() (id, addr string)
	HasState() bool
	IsShutdown() bool
	Bootstrap(servers []consensus.Server) error
	Servers() ([]consensus.Server, error)
	AddVoter(id, addr string) error
	AddNonvoter(id, addr string) error
	RemoveServer(id string) error
	Propose(ctx context.Context, b events.Batch) (events.Committed, error)
	PublishCommit()
	History(ctx context.Context) (consensus.History, error)
	CheckHistory(ctx context.Context, h consensus.History) error
	ReadIndex(ctx context.Context) (uint64, error)
	WaitApplied(ctx context.Context, index uint64) error
	StoreApplied() uint64
	Unreachable() map[string]time.Time
	VoteGated() bool
	Superseded() *consensus.Superseded
	Unproven() bool
	OpenVoteGate(target uint64) (bool, error)
	AllowVoting(why string) error
	TransferLeadership() error
}

// Config configures an Agent.
type Config struct {
	// Self describes this node: ID, Raft and HTTP advertise addresses.
	Self Member
	// Secret is CLUSTER_HMAC_SECRET.
	Secret []byte
	// Expect is BOOTSTRAP_EXPECT (0: never bootstrap with others, only join).
	Expect int
	// Seeds are HTTP host:port of other nodes (DISCOVERY_SEEDS).
	Seeds []string
	// DNSName is resolved to A records on every round (DISCOVERY_DNS_NAME);
	// each is combined with DNSPort.
	DNSName string
	DNSPort string
	// DeadNodeTimeout is how long the leader tolerates a voter it cannot
	// reach before removing it (DEAD_NODE_TIMEOUT; 0 disables).
	DeadNodeTimeout time.Duration
	// Interval is the gossip period (default 500 ms).
	Interval time.Duration
	// Resolver resolves DNSName (default net.DefaultResolver).
	Resolver interface {
		LookupHost(ctx context.Context, host string) ([]string, error)
	}
	// TLS, if set, makes node-to-node HTTP use HTTPS, trusting its
	// RootCAs (nil: the system's).
	TLS    *tls.Config
	Logger *slog.Logger
	// OnForward, if set, is told of every write forwarded to the leader:
	// how long it took and how it ended (for metrics).
	OnForward func(took time.Duration, err error)
	// OnForwardGroup, if set, is told of every exchange that carried
	// several queued writes to the leader at once, and how many.
	OnForwardGroup func(batches int)
	// Refusals logs refused internal requests; share it with the Raft
	// transport's refusals so one host's flood is throttled across both
	// (default: its own, on Logger).
	Refusals *Refusals
}

// Agent keeps this node in its cluster: it gossips with seeds, DNS answers
// and known members, bootstraps or joins as Decide says, and on the leader
// admits joins and removes dead voters. It also serves the signed /internal
// endpoints and forwards writes and read-index requests to the leader.
type Agent struct {
	cfg      Config
	raft     Raft
	signer   *Signer
	members  *Members
	client   *http.Client
	logger   *slog.Logger
	refusals *Refusals
	// forwarder sends the batches this follower forwards (forward_group.go).
	forwarder forwarder

	cancel    context.CancelFunc
	done      chan struct{}
	vote      string // the node this one endorses to bootstrap
	voteSince time.Time
	// leaderlessSince is when the local Raft last knew a leader.
	leaderlessSince time.Time
	// refusedJoins throttles this node's log of the cluster refusing it
	// (asked again every round); foreignJoins, on the leader, its log of
	// the joins it refuses, by node ID.
	refusedJoins, foreignJoins throttle.Throttle
	// joinLogged is set once "joined the cluster" is logged, until this
	// node is seen in the configuration.
	joinLogged bool
	// gateTarget is the read index a leader gave this node while its vote
	// gate was closed: the gate opens once the local log reaches it.
	gateTarget uint64
	// refused is set while the cluster refuses this node's history as
	// another cluster's: it must then serve nothing.
	refused atomic.Bool
	// removedHere is set while the leader refuses this node's joins
	// because it was removed on request (errRemoved): it serves nothing
	// until restarted.
	removedHere atomic.Bool
	// level is the cluster's event level (EventLevel); events.MinLevel
	// until Start has worked it out. levelMu serialises its updates;
	// joiners are the nodes that asked this leader to join, which count
	// before the configuration lists them (see updateLevel).
	level   atomic.Int64
	levelMu sync.Mutex
	joiners map[string]time.Time
	// levelSaid is the level last logged (0: none yet), so that a start
	// says the level once rather than a change from the placeholder.
	levelSaid int

	// named are the addresses discovery names (seeds, DNS records) as of
	// the last gossip round, and answered when each last answered: a
	// node founds a cluster only while few enough of them are silent
	// (see View.Unheard).
	namedMu  sync.Mutex
	named    []string
	answered map[string]time.Time

	mu sync.Mutex
	// removed holds, on the node that removed them on request, the
	// incarnation each removed node had: the same process may not rejoin,
	// a restart (a higher incarnation) may.
	removed map[string]int64
}

// NewAgent returns an agent for raft; Start runs it.
func NewAgent(cfg Config, raft Raft) *Agent {
	if cfg.Interval == 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Self.Incarnation == 0 {
		cfg.Self.Incarnation = time.Now().UnixNano()
	}
	if cfg.Refusals == nil {
		cfg.Refusals = &Refusals{Logger: cfg.Logger}
	}
	if cfg.Self.EventLevel == 0 {
		cfg.Self.EventLevel = events.Level
	}
	a := &Agent{
		cfg:      cfg,
		raft:     raft,
		signer:   NewSigner(cfg.Secret, cfg.Self.ID),
		members:  NewMembers(cfg.Self),
		client:   newClient(cfg.TLS),
		logger:   cfg.Logger,
		refusals: cfg.Refusals,
	}
	a.forwarder.a = a
	a.level.Store(events.MinLevel)
	return a
}

// Members returns the gossip membership this agent keeps: who is heard of,
// at which address, incarnation and event level.
func (a *Agent) Members() *Members { return a.members }

// Signer returns the request signer.
func (a *Agent) Signer() *Signer { return a.signer }

// Start runs the gossip loop until Close.
func (a *Agent) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.done = make(chan struct{})
	// The level before the first round, which may wait on unreachable
	// peers: this node's own for a configuration of itself alone (a
	// single node serves at once), the lowest for one that names nodes
	// not heard of yet.
	a.updateLevel()
	go func() {
		defer close(a.done)
		a.round(ctx)
		t := time.NewTicker(a.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.round(ctx)
			}
		}
	}()
}

// Close stops the loop and idle connections.
func (a *Agent) Close() {
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
	a.client.CloseIdleConnections()
}

// round is one gossip period: refresh our own entry, talk to everyone we
// know of, then act on what we learned.
func (a *Agent) round(ctx context.Context) {
	if a.raft.IsShutdown() {
		return
	}
	leaderID, _ := a.raft.Leader()
	a.members.UpdateSelf(a.raft.HasState(), leaderID, time.Now())
	a.gossip(ctx)
	a.members.Prune(time.Now().Add(-forgetAfter))
	a.syncRaftMembers()
	a.act(ctx)
	a.settleVoteGate(ctx)
	if a.raft.IsLeader() {
		a.reap()
	}
}

// Refused reports whether the cluster refuses this node's history as
// another cluster's (its last join was refused with a conflict). Such a node
// must report not ready and serve no reads: what it holds is not the
// cluster's.
func (a *Agent) Refused() bool { return a.refused.Load() }

// Removed reports whether this node was removed from the cluster on
// request (agenda cluster remove-node) while it ran: the leader refuses
// its joins until it restarts, and it serves nothing meanwhile.
func (a *Agent) Removed() bool { return a.removedHere.Load() }

// IsMember reports whether the Raft configuration lists this node at its
// current Raft address: until it does, the leader cannot reach it.
func (a *Agent) IsMember() bool { return a.isMember() }

// isMember reports whether the Raft configuration lists this node at its
// current Raft address.
func (a *Agent) isMember() bool { return a.inConfiguration(false) }

// member reports whether this node is where it should be for now: in the
// configuration at its own address while it may not vote (a non-voter
// until it has caught up), a voter there once it may. Until then it asks
// to join every round; a non-voter asks only once its gate is open, so
// that no leader (an older build's included, which knows nothing of
// gates) promotes it before it has caught up.
func (a *Agent) member() bool {
	if a.raft.VoteGated() {
		return a.inConfiguration(false)
	}
	return a.inConfiguration(true)
}

func (a *Agent) inConfiguration(voter bool) bool {
	servers, err := a.raft.Servers()
	if err != nil {
		return false
	}
	for _, s := range servers {
		if s.ID == a.cfg.Self.ID {
			return s.Address == a.cfg.Self.RaftAddr && (!voter || s.Suffrage == "Voter")
		}
	}
	return false
}
