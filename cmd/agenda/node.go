package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/agendahq/agenda/cluster"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/eventstore"
	agendahttp "github.com/agendahq/agenda/http"
	"github.com/agendahq/agenda/internal/datadir"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// Node is one running Agenda node: event store, Raft, projector, read model
// and HTTP server, wired together. Tests start whole nodes through it.
type Node struct {
	Config Config
	Logger *slog.Logger

	lock      *datadir.Lock
	store     *eventstore.Store
	raft      *consensus.Node
	agent     *cluster.Agent
	rm        *readmodel.DB
	projector *projections.Projector
	ops       *nodeOps
	commands  *commands.Handlers
	hub       *agendahttp.Hub // live subscribers (WebSocket)
	ln        net.Listener    // bound, for its address
	bounded   *boundedListener
	server    *http.Server
	// handler is what server serves: startingHandler until the node is
	// wired, then the API.
	handler atomic.Pointer[http.Handler]
	// agentRef is agent for Raft's address lookups, which start before
	// the agent exists.
	agentRef atomic.Pointer[cluster.Agent]
	debug    *http.Server
	conns    connTracker

	projectorDone chan error
	cancel        context.CancelFunc
	closeOnce     sync.Once
	closeErr      error
}

// Open opens the node's stores and starts Raft, the projector and the HTTP
// server. It returns once the HTTP listener is bound.
func (n *Node) Open(ctx context.Context) (err error) {
	if n.Logger == nil {
		n.Logger = slog.Default()
	}
	c := &n.Config
	// A second process on the same data dir fails here, at once, rather
	// than hanging on the Raft log's lock.
	if n.lock, err = datadir.Acquire(c.DataDir); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	tlsCfg, err := n.setup(c)
	if err != nil {
		return err
	}

	if err := n.listen(c, tlsCfg); err != nil {
		return err
	}
	raftAdvertise, httpAdvertise, err := n.advertiseAddrs(ctx, c)
	if err != nil {
		return err
	}

	if err := n.openStores(ctx, c); err != nil {
		return err
	}
	// One throttle for refused Raft connections and internal requests, so
	// that a host hammering either cannot flood the log.
	refusals := &cluster.Refusals{Logger: n.Logger, OnRefuse: n.ops.onRefuse}
	if err := n.openConsensus(c, tlsCfg, raftAdvertise, refusals); err != nil {
		return err
	}

	runCtx, err := n.startProjector()
	if err != nil {
		return err
	}

	n.newAgent(c, tlsCfg, httpAdvertise, refusals)
	n.newCommands(c)
	if err := n.serveAPI(runCtx, c); err != nil {
		return err
	}
	if c.DebugAddr != "" {
		if n.debug, err = serveDebug(c.DebugAddr, n.Logger); err != nil {
			return err
		}
	}
	n.agent.Start()
	go n.ops.watch(runCtx)
	n.Logger.Info("agenda node started", "http_addr", n.HTTPAddr(), "http_advertise", httpAdvertise, "raft_addr", n.raft.RaftAddr(),
		"data_dir", c.DataDir, "bootstrap_expect", c.BootstrapExpect, "seeds", c.DiscoverySeeds, "dns_name", c.DiscoveryDNSName)
	return nil
}

// setup settles the node's identity, makes its data dir private and loads
// its TLS material (nil without TLS).
func (n *Node) setup(c *Config) (*nodeTLS, error) {
	if err := c.resolveIdentity(n.Logger); err != nil {
		return nil, err
	}
	n.Logger = n.Logger.With("node_id", c.NodeID)
	if err := tightenDataDir(c.DataDir); err != nil {
		return nil, fmt.Errorf("make the data dir private: %w", err)
	}
	return loadTLS(c)
}

// listen binds the HTTP listener and serves health probes on it while the
// rest of the node starts.
func (n *Node) listen(c *Config, tlsCfg *nodeTLS) (err error) {
	// Listen first and answer health probes while the rest starts: finding
	// this node's address may wait for the orchestrator's DNS, which lists
	// a task only once its health check passes.
	if n.ln, err = net.Listen("tcp", c.HTTPAddr); err != nil {
		return fmt.Errorf("listen on %s: %w", c.HTTPAddr, err)
	}
	maxConns, nofile := listenerLimits(cmp.Or(c.HTTPMaxConns, defaultMaxConns))
	if maxConns < cmp.Or(c.HTTPMaxConns, defaultMaxConns) {
		n.Logger.Warn("HTTP connection limit lowered to fit the file descriptor limit", "http_max_conns", maxConns, "rlimit_nofile", nofile)
	}
	n.bounded = newBoundedListener(n.ln, maxConns, cmp.Or(c.HTTPMaxConnsPerAddr, defaultMaxConnsPerAddr))
	n.handler.Store(startingHandler())
	n.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*n.handler.Load()).ServeHTTP(w, r) }),
		// A connection that sends no request within ReadHeaderTimeout, or
		// sits idle between requests for IdleTimeout, gives its slot of
		// the bounded listener back.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    32 << 10,
		ConnState:         n.conns.track,
		TLSConfig:         tlsCfg.forServer(),
		ErrorLog:          slog.NewLogLogger(n.Logger.Handler(), slog.LevelDebug),
	}
	var ln net.Listener = n.bounded
	if tlsCfg != nil {
		ln = tls.NewListener(ln, n.server.TLSConfig)
	}
	go func() {
		if err := n.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.Logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// advertiseAddrs returns the Raft and HTTP addresses other nodes reach this
// one at.
func (n *Node) advertiseAddrs(ctx context.Context, c *Config) (string, string, error) {
	raftAdvertise, httpAdvertise := c.RaftAdvertiseAddr, c.AdvertiseAddr
	if (raftAdvertise == "" && needsHost(c.RaftAddr)) || (httpAdvertise == "" && needsHost(n.ln.Addr().String())) {
		host, err := findOwnHost(ctx, c, n.Logger)
		if err != nil {
			return "", "", err
		}
		if raftAdvertise == "" {
			raftAdvertise = withHost(c.RaftAddr, host)
		}
		if httpAdvertise == "" {
			httpAdvertise = withHost(n.ln.Addr().String(), host)
		}
	}
	if httpAdvertise == "" {
		httpAdvertise = n.ln.Addr().String()
	}
	return raftAdvertise, httpAdvertise, nil
}

// openStores opens the event store, the read model and the node's
// operational state.
func (n *Node) openStores(ctx context.Context, c *Config) (err error) {
	if n.store, err = eventstore.Open(ctx, filepath.Join(c.DataDir, "events.db")); err != nil {
		return fmt.Errorf("open event store: %w", err)
	}
	if n.rm, err = readmodel.Open(ctx, filepath.Join(c.DataDir, "readmodel.db")); err != nil {
		return fmt.Errorf("open read model: %w", err)
	}
	if n.ops, err = newNodeOps(ctx, n); err != nil {
		return err
	}
	return nil
}

// openConsensus starts Raft over the event store.
func (n *Node) openConsensus(c *Config, tlsCfg *nodeTLS, raftAdvertise string, refusals *cluster.Refusals) (err error) {
	if n.raft, err = consensus.Open(consensus.Config{
		NodeID:        c.NodeID,
		Dir:           filepath.Join(c.DataDir, "raft"),
		BindAddr:      c.RaftAddr,
		AdvertiseAddr: raftAdvertise,
		// Alone, a node forms its own cluster at once, as it always has;
		// with others, the cluster agent decides (cluster.Decide).
		Bootstrap: !c.MultiNode(),
		Secret:    []byte(c.ClusterSecret),
		TLS:       tlsCfg.forRaft(),
		OnReject: func(remote, reason string) {
			refusals.Log("raft connection refused", remote, "transport", "raft", "reason", reason)
		},
		// Raft dials each server where gossip last heard it is, not only
		// at the configuration's address: see consensus.Config.ServerAddr.
		ServerAddr: func(id string) (string, bool) {
			if a := n.agentRef.Load(); a != nil {
				return a.RaftAddrOf(id)
			}
			return "", false
		},
		SnapshotThreshold: c.SnapshotThreshold,
		SnapshotInterval:  c.SnapshotInterval,
		TrailingLogs:      c.TrailingLogs,
		Hooks:             n.ops.raftHooks(),
		Logger:            n.Logger,
	}, n.store); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	return nil
}

// startProjector starts the projector and returns once it runs; the
// returned context lives until Close.
func (n *Node) startProjector() (runCtx context.Context, err error) {
	if n.projector, err = projections.New(n.store, n.rm, projections.All(), n.Logger); err != nil {
		return nil, fmt.Errorf("build projector: %w", err)
	}
	n.projector.OnRebuild = n.ops.onRebuild
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.projectorDone = make(chan error, 1)
	go func() { n.projectorDone <- n.projector.Run(runCtx) }()
	select {
	case <-n.projector.Running():
	case err := <-n.projectorDone:
		n.projectorDone <- err // for Close, which waits on it
		return nil, fmt.Errorf("projector: %w", err)
	}
	return runCtx, nil
}

// newAgent builds the cluster agent (gossip, discovery, forwarding); Open
// starts it last.
func (n *Node) newAgent(c *Config, tlsCfg *nodeTLS, httpAdvertise string, refusals *cluster.Refusals) {
	_, httpPort, _ := net.SplitHostPort(httpAdvertise)
	n.agent = cluster.NewAgent(cluster.Config{
		Self:            cluster.Member{ID: c.NodeID, RaftAddr: n.raft.RaftAddr(), HTTPAddr: httpAdvertise, Incarnation: nextIncarnation(c.DataDir, n.Logger)},
		Secret:          []byte(c.ClusterSecret),
		Expect:          c.BootstrapExpect,
		Seeds:           c.DiscoverySeeds,
		DNSName:         c.DiscoveryDNSName,
		DNSPort:         httpPort,
		DeadNodeTimeout: c.DeadNodeTimeout,
		Logger:          n.Logger,
		Refusals:        refusals,
		OnForward:       n.ops.onForward,
		TLS:             tlsCfg.forClient(),
	}, n.raft)
	n.agentRef.Store(n.agent)
}

// newCommands builds the command handlers, which propose through the agent.
func (n *Node) newCommands(c *Config) {
	n.commands = commands.New(n.agent, n.rm, c.NodeID)
	n.commands.BcryptCost = c.BcryptCost
	// A command decided on a follower reads a read model one replication
	// round behind the leader's, so under contention for one stream it
	// loses the race to writers on the leader several times in a row. Each
	// retry is a few milliseconds; allow enough to outlast a burst.
	n.commands.MaxRetries = 64
	n.commands.Fresh = strongReads{n}.ReadBarrier
}

// serveAPI builds the HTTP API and swaps it in for the starting handler.
func (n *Node) serveAPI(runCtx context.Context, c *Config) (err error) {
	n.hub = agendahttp.NewHub(n.rm, n.Logger)
	go n.hub.Run(runCtx)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.ops.register(reg)
	metrics := agendahttp.NewMetrics(reg)
	metrics.CountSubscribers(n.hub.Subscribers)
	srv := &agendahttp.Server{
		Commands: n.commands,
		Queries:  n.rm,
		Node:     nodeStatus{n},
		Tokens:   &agendahttp.Tokens{Secret: []byte(c.JWTSecret), TTL: c.TokenTTL},
		Metrics:  metrics,
		Logger:   n.Logger,
		Internal: n.agent.Handler(),
		Reads:    strongReads{n},
		Limits:   cmp.Or(c.Limits, agendahttp.DefaultLimits(runtime.NumCPU())),
		Fence:    n.agent.Fence,
		// The audit trail and the admin API (node-local: see ops.go).
		Audit:      n.ops.httpAudit(),
		Admin:      adminAPI{n},
		AuditToken: c.AuditToken,
		// The feed and the live stream (live_handlers.go).
		Feed: n.rm,
		Hub:  n.hub,
	}
	h := srv.Handler()
	n.handler.Store(&h)
	return nil
}

// HTTPAddr returns the bound HTTP address.
func (n *Node) HTTPAddr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// Close shuts the node down in reverse order: stop taking requests, let
// in-flight ones finish, stop the projector, then Raft, then the stores.
// Calling it again is a no-op.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	var errs []error
	// A leader hands leadership over first, while it still serves HTTP:
	// once its server stops, the followers' forwarded writes cannot reach
	// it and would wait out their retries (up to 2 s) until Raft's own
	// shutdown handed leadership over. Its in-flight writes are retried
	// through the new leader like any write on a follower.
	if n.raft != nil && n.raft.IsLeader() && len(n.raft.Status().Servers) > 1 {
		if err := n.raft.TransferLeadership(); err != nil {
			n.Logger.Warn("leadership transfer before shutdown failed", "err", err)
		}
	}
	if n.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// Shutdown waits for connections that never sent a request
		// (golang/go#22682): a client's spare pooled connection would hold
		// a stopping node for seconds. Nothing was asked on them, so
		// closing them loses nothing; the client dials again elsewhere.
		n.conns.closeUnused()
		if err := n.server.Shutdown(ctx); err != nil {
			// Handlers still running after the grace period: cut them off
			// before the stores they use are closed.
			n.server.Close()
			errs = append(errs, err)
		}
		cancel()
	}
	if n.hub != nil {
		// Live streams are hijacked connections, which Shutdown leaves
		// alone: end them (telling clients to reconnect elsewhere).
		n.hub.Close()
		<-n.hub.Done()
	}
	if n.debug != nil {
		n.debug.Close()
	}
	if n.agent != nil {
		n.agent.Close()
	}
	if n.projector != nil {
		errs = append(errs, n.projector.Close())
		if n.cancel != nil {
			n.cancel()
		}
		if n.projectorDone != nil {
			<-n.projectorDone
		}
	}
	if n.raft != nil {
		errs = append(errs, n.raft.Close())
	}
	if n.rm != nil {
		errs = append(errs, n.rm.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	if n.ops != nil {
		// Last: it drains what everything above recorded while stopping.
		errs = append(errs, n.ops.audit.Close())
	}
	errs = append(errs, n.lock.Unlock())
	return errors.Join(errs...)
}

// nodeStatus adapts the node to the HTTP layer's Node interface.
type nodeStatus struct{ n *Node }

func (s nodeStatus) ClusterStatus() agendahttp.ClusterStatus {
	st := s.n.raft.Status()
	cs := agendahttp.ClusterStatus{
		NodeID: st.NodeID, State: st.State, LeaderID: st.LeaderID, LeaderAddr: st.LeaderAddr,
		Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
		Position: s.n.rm.Position(), Nodes: []agendahttp.ClusterNode{},
	}
	inConfig := map[string]bool{}
	unreachable := s.n.raft.Unreachable()
	now := time.Now().UTC()
	for _, srv := range st.Servers {
		inConfig[srv.ID] = true
		node := agendahttp.ClusterNode{ID: srv.ID, Address: srv.Address, Suffrage: srv.Suffrage, Source: cluster.SourceRaft}
		if m, ok := s.n.agent.Members().Get(srv.ID); ok {
			node.Source = m.Source
			if !m.LastSeen.IsZero() {
				t := m.LastSeen.UTC()
				node.LastSeen = &t
			}
		}
		// The leader's heartbeats are the best evidence of life.
		if st.State == "Leader" {
			t := now
			if last, failing := unreachable[srv.ID]; failing {
				t = last.UTC()
			}
			if node.LastSeen == nil || t.After(*node.LastSeen) {
				node.LastSeen = &t
			}
		}
		cs.Nodes = append(cs.Nodes, node)
	}
	// Nodes heard of lately but not (or no longer) in the configuration:
	// joining, or removed and still running.
	for _, m := range s.n.agent.Members().All() {
		if inConfig[m.ID] || now.Sub(m.LastSeen) > time.Minute {
			continue
		}
		node := agendahttp.ClusterNode{ID: m.ID, Address: m.RaftAddr, Suffrage: "None", Source: m.Source}
		if !m.LastSeen.IsZero() {
			t := m.LastSeen.UTC()
			node.LastSeen = &t
		}
		cs.Nodes = append(cs.Nodes, node)
	}
	return cs
}

// strongReads adapts the cluster agent to the HTTP layer's linearizable
// reads: read index from the leader, local apply, then projection.
type strongReads struct{ n *Node }

func (s strongReads) ReadBarrier(ctx context.Context) error {
	return s.n.agent.ReadBarrier(ctx, s.n.store.Head, s.n.rm.WaitFor)
}

func (s nodeStatus) Readiness() agendahttp.Readiness {
	leader, _ := s.n.raft.Leader()
	r := agendahttp.Readiness{Leader: leader, Position: s.n.rm.Position(), Head: s.n.store.Head()}
	switch {
	case s.n.raft.IsShutdown():
		r.Reason = "raft has stopped (removed from the cluster?)"
	case leader == "":
		r.Reason = "no leader known"
	case s.n.agent.Refused():
		r.Reason = "the cluster refuses this node's history as another's: move its data dir aside"
	case !s.n.agent.IsMember():
		r.Reason = "not (yet) in the cluster's configuration at this address"
	case s.n.raft.VoteGated():
		r.Reason = "catching up with the cluster before it may vote"
	case !s.n.raft.CaughtUp():
		r.Reason = "applying committed log entries"
	case !s.n.projector.Healthy():
		// Name the projection and the event it cannot apply: the
		// operator's first question, answered without reading logs.
		r.Reason = "a projection has stopped"
		for _, st := range s.n.projector.Status() {
			if st.State == "stopped" {
				r.Reason = fmt.Sprintf("projection %s stopped at position %d: %s", st.Name, st.Position, st.LastError)
				break
			}
		}
	case r.Position < r.Head:
		r.Reason = "read model catching up"
	default:
		r.Ready = true
	}
	r.Status = "ready"
	if !r.Ready {
		r.Status = "not_ready"
	}
	return r
}

// startingHandler answers while the node starts: alive (/healthz 200), not
// ready, and every other request 503 with Retry-After, in the API's error
// format.
func startingHandler() *http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"status":"ok"}` + "\n"))
			return
		}
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		if r.URL.Path == "/readyz" {
			w.Write([]byte(`{"status":"not_ready","leader":"","position":0,"head":0,"reason":"starting: finding this node's address"}` + "\n"))
			return
		}
		w.Write([]byte(`{"error":{"code":"unavailable","message":"the node is starting","details":{}}}` + "\n"))
	})
	return &h
}
