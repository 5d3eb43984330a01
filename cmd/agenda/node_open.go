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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/agendahq/agenda/cluster"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/consensus"
	agendahttp "github.com/agendahq/agenda/http"
	"github.com/agendahq/agenda/internal/datadir"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// Open opens the node's stores and starts Raft, the projector and the HTTP
// server. It returns once the HTTP listener is bound.
func (n *Node) Open(ctx context.Context) (err error) {
	if n.Logger == nil {
		n.Logger = slog.Default()
	}
	c := &n.Config
	n.ready = newReadyClock()
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
	go n.ready.sample(runCtx, nodeStatus{n}.strictReadiness)
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
	var discarded, lost bool
	if n.store, discarded, lost, err = openEventStore(ctx, c.DataDir, n.Logger); err != nil {
		return fmt.Errorf("open event store: %w", err)
	}
	rmPath := filepath.Join(c.DataDir, "readmodel.db")
	if discarded {
		// Built from the discarded store: built again from the new one.
		if err := readmodel.RemoveFile(rmPath); err != nil {
			return fmt.Errorf("discard the read model: %w", err)
		}
	}
	if n.rm, err = readmodel.Open(ctx, rmPath); err != nil {
		return fmt.Errorf("open read model: %w", err)
	}
	if why := n.rm.Discarded(); why != "" {
		n.Logger.Warn("read model discarded; the projectors rebuild it from the event store before the node is ready", "reason", why)
	}
	// Projections Open created empty (a new or discarded file, a changed
	// schema) are built again from a store that holds events.
	lost = lost || (len(n.rm.ProjectionsReset()) > 0 && n.store.Head() > 0)
	// Until caught up, its read model holds only part of what it (or, for
	// a node that starts empty to join a cluster, the cluster)
	// acknowledged: it serves nothing (fence).
	n.rebuilding.Store(discarded || lost || (n.store.Head() == 0 && c.MultiNode()))
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
		Self: cluster.Member{ID: c.NodeID, RaftAddr: n.raft.RaftAddr(), HTTPAddr: httpAdvertise,
			Incarnation: nextIncarnation(c.DataDir, n.Logger), EventLevel: c.EventLevel},
		Secret:          []byte(c.ClusterSecret),
		Expect:          c.BootstrapExpect,
		Seeds:           c.DiscoverySeeds,
		DNSName:         c.DiscoveryDNSName,
		DNSPort:         httpPort,
		DeadNodeTimeout: c.DeadNodeTimeout,
		Logger:          n.Logger,
		Refusals:        refusals,
		OnForward:       n.ops.onForward,
		OnForwardGroup:  n.ops.onForwardGroup,
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
	n.commands.Level = n.agent.EventLevel
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
		Fence:    n.fence,
		// The audit trail and the admin API (node-local: see ops.go).
		Audit:      n.ops.httpAudit(),
		Admin:      adminAPI{n},
		AuditToken: c.AuditToken,
		// GET /metrics (http/metrics.go).
		MetricsToken: c.MetricsToken,
		// The feed and the live stream (http/feed_handlers.go, http/live_handlers.go).
		Feed: n.rm,
		Hub:  n.hub,
	}
	n.api = srv
	go srv.RunAuditSweeps(runCtx)
	h := srv.Handler()
	n.handler.Store(&h)
	return nil
}
