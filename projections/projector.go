package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// DefaultMaxAttempts is how many times a failing batch is tried before its
// projection is stopped: skipping it would leave the read model wrong for
// good, so a projection that cannot apply an event stops and says so.
const DefaultMaxAttempts = 8

// Projector runs every projection under one watermill Router.
type Projector struct {
	source EventSource
	rm     *readmodel.DB
	logger *slog.Logger
	router *message.Router

	// MaxAttempts and Backoff govern retries of a failing batch; set them
	// before Run (tests shorten them).
	MaxAttempts int
	Backoff     func(attempt int) time.Duration

	mu     sync.Mutex
	status map[string]*Status
	subs   map[string]*EventStoreSubscriber
	projs  map[string]Projection
	order  []string
	// rebuild is the online rebuild in progress (nil if none); last holds
	// each projection's last finished one.
	rebuild       *RebuildProgress
	lastRebuild   map[string]*RebuildProgress
	rebuildCtx    context.Context
	rebuildCancel context.CancelFunc
	rebuildWG     sync.WaitGroup
	// OnRebuild, if set before Run, is told when an online rebuild ends
	// (for the audit trail).
	OnRebuild func(RebuildProgress)
}

// Status describes one projection.
type Status struct {
	Name      string `json:"name"`
	Position  int64  `json:"position"`
	Head      int64  `json:"head"`
	Lag       int64  `json:"lag"`
	State     string `json:"state"` // "running", "retrying", "stopped", "rebuilding"
	LastError string `json:"last_error,omitempty"`
	// Rebuild is the online rebuild in progress, LastRebuild the last one
	// that ended on this node since it started.
	Rebuild     *RebuildProgress `json:"rebuild,omitempty"`
	LastRebuild *RebuildProgress `json:"last_rebuild,omitempty"`
}

// New builds a projector for the given projections over source into rm.
func New(source EventSource, rm *readmodel.DB, projections []Projection, logger *slog.Logger) (*Projector, error) {
	if logger == nil {
		logger = slog.Default()
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second},
		watermill.NewSlogLoggerWithLevelMapping(logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
	if err != nil {
		return nil, err
	}
	router.AddMiddleware(middleware.Recoverer)
	p := &Projector{source: source, rm: rm, logger: logger, router: router,
		MaxAttempts: DefaultMaxAttempts, Backoff: backoff,
		status: map[string]*Status{}, subs: map[string]*EventStoreSubscriber{},
		projs: map[string]Projection{}, lastRebuild: map[string]*RebuildProgress{}}
	p.rebuildCtx, p.rebuildCancel = context.WithCancel(context.Background())
	for _, proj := range projections {
		proj := proj
		name := proj.Name()
		if len(proj.EventTypes()) == 0 {
			return nil, fmt.Errorf("projection %s handles no event type", name)
		}
		if _, dup := p.projs[name]; dup {
			return nil, fmt.Errorf("two projections named %s", name)
		}
		p.projs[name] = proj
		p.order = append(p.order, name)
		p.status[name] = &Status{Name: name, State: "running"}
		sub := &EventStoreSubscriber{
			Source:     source,
			Checkpoint: func() int64 { return rm.Checkpoint(name) },
			Types:      proj.EventTypes(),
			Logger:     logger,
			OnNack:     func(attempt int) { p.setState(name, "retrying", "") },
			Backoff:    func(attempt int) time.Duration { return p.Backoff(attempt) },
		}
		p.subs[name] = sub
		router.AddConsumerHandler("projection-"+name, name, sub, p.handler(proj))
	}
	return p, nil
}

// Run runs the router until ctx ends or Close is called.
func (p *Projector) Run(ctx context.Context) error { return p.router.Run(ctx) }

// Running is closed once every handler has started.
func (p *Projector) Running() chan struct{} { return p.router.Running() }

// Close stops any online rebuild, then the router, and waits for in-flight
// batches.
func (p *Projector) Close() error {
	p.rebuildCancel()
	p.rebuildWG.Wait()
	return p.router.Close()
}

func (p *Projector) handler(proj Projection) message.NoPublishHandlerFunc {
	name := proj.Name()
	attempts := 0
	return func(msg *message.Message) error {
		from, to, err := batchRange(msg)
		if err != nil {
			return err
		}
		envs, err := BatchEvents(msg)
		if err != nil {
			return err
		}
		// Once started, a batch runs to its commit or rollback; an
		// uncancellable context also spares go-sqlite3 a watcher per statement.
		decoded := batchDecoded(msg)
		if len(envs) == 0 {
			// Nothing of this projection's in the range: the checkpoint
			// moves without a transaction (see readmodel.DB.Skip).
			err = p.rm.Skip(context.WithoutCancel(msg.Context()), name, from, to)
		} else {
			err = p.rm.Apply(context.WithoutCancel(msg.Context()), name, from, to, func(tx *readmodel.Tx) error {
				return handleAll(tx, proj, envs, decoded)
			})
		}
		if errors.Is(err, readmodel.ErrCheckpointMoved) {
			// A reset or a concurrent apply moved the checkpoint: the
			// subscriber resumes from the stored one.
			attempts = 0
			return err
		}
		if err != nil {
			attempts++
			p.logger.Error("projection failed to apply batch", "projection", name, "from", from, "to", to, "attempt", attempts, "err", err)
			if attempts >= p.MaxAttempts {
				p.setState(name, "stopped", err.Error())
				p.logger.Error("projection stopped: it cannot apply an event and will not skip it", "projection", name, "position", from+1)
				p.stop(name)
			} else {
				p.setState(name, "retrying", err.Error())
			}
			return err
		}
		attempts = 0
		p.setState(name, "running", "")
		return nil
	}
}

// handleAll runs proj over envs inside tx: the one place events meet a
// projection, for the live projector and for rebuilds alike. decoded, if
// not nil, holds the envelopes' events already decoded, index for index,
// nil where they are not (a rebuild decodes while the previous batch is
// applied; the live projector gets those the FSM decoded).
func handleAll(tx *readmodel.Tx, proj Projection, envs []events.Envelope, decoded []events.Event) error {
	for i := range envs {
		var ev events.Event
		var err error
		if decoded != nil && decoded[i] != nil {
			ev = decoded[i]
		} else if ev, err = decodeCommitted(&envs[i]); err != nil {
			return err
		}
		if err := proj.Handle(tx, &envs[i], ev); err != nil {
			return fmt.Errorf("projection %s: event %d (%s): %w", proj.Name(), envs[i].Position, envs[i].Type, err)
		}
	}
	return nil
}

func (p *Projector) stop(name string) {
	p.mu.Lock()
	sub := p.subs[name]
	p.mu.Unlock()
	// Close from another goroutine: the subscriber waits for this handler.
	go sub.Close()
}

func (p *Projector) setState(name, state, lastErr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.status[name]
	if s.State == "stopped" {
		return
	}
	s.State = state
	if lastErr != "" || state == "running" {
		s.LastError = lastErr
	}
}

// Status reports every projection.
func (p *Projector) Status() []Status {
	head, _ := p.source.Watch()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Status, 0, len(p.status))
	for _, name := range p.order {
		c := *p.status[name]
		c.Position = p.rm.Checkpoint(name)
		c.Head = head
		c.Lag = head - c.Position
		if r := p.rebuild; r != nil && r.Projection == name {
			cp := *r
			c.Rebuild = &cp
			if c.State == "running" {
				c.State = "rebuilding"
			}
		}
		if r := p.lastRebuild[name]; r != nil {
			cp := *r
			c.LastRebuild = &cp
		}
		out = append(out, c)
	}
	return out
}

// Healthy reports whether no projection has stopped.
func (p *Projector) Healthy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.status {
		if s.State == "stopped" {
			return false
		}
	}
	return true
}

// Rebuild clears a running projection; its subscriber notices the reset
// checkpoint and replays the event store into it. Nothing that serves
// clients calls it: until the replay is done, the projection's state lies
// behind positions readers have already seen (a token check would refuse
// users not yet replayed). The admin API rebuilds with StartRebuild, which
// switches a complete copy in.
func (p *Projector) Rebuild(ctx context.Context, name string) error {
	p.mu.Lock()
	s, ok := p.status[name]
	var state string
	if ok {
		state = s.State
	}
	p.mu.Unlock()
	if !ok {
		return agenda.Errorf(agenda.ENOTFOUND, "no projection %q", name)
	}
	if state == "stopped" {
		return agenda.Errorf(agenda.ECONFLICT, "projection %q is stopped; restart the node to retry it", name)
	}
	return p.rm.Reset(ctx, name)
}
