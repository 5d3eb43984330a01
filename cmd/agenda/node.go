package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/eventstore"
	agendahttp "github.com/agendahq/agenda/http"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// Node is one running Agenda node: event store, Raft, projector, read model
// and HTTP server, wired together. Tests start whole nodes through it.
type Node struct {
	Config Config
	Logger *slog.Logger

	store     *eventstore.Store
	raft      *consensus.Node
	rm        *readmodel.DB
	projector *projections.Projector
	commands  *commands.Handlers
	ln        net.Listener
	server    *http.Server

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
	if err := c.resolveIdentity(n.Logger); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	n.Logger = n.Logger.With("node_id", c.NodeID)

	if n.store, err = eventstore.Open(ctx, filepath.Join(c.DataDir, "events.db")); err != nil {
		return fmt.Errorf("open event store: %w", err)
	}
	if n.rm, err = readmodel.Open(ctx, filepath.Join(c.DataDir, "readmodel.db")); err != nil {
		return fmt.Errorf("open read model: %w", err)
	}
	if n.raft, err = consensus.Open(consensus.Config{
		NodeID:        c.NodeID,
		Dir:           filepath.Join(c.DataDir, "raft"),
		BindAddr:      c.RaftAddr,
		AdvertiseAddr: c.RaftAdvertiseAddr,
		Bootstrap:     true,
		Secret:        []byte(c.ClusterSecret),
		Logger:        n.Logger,
	}, n.store); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}

	if n.projector, err = projections.New(n.store, n.rm, projections.All(), n.Logger); err != nil {
		return fmt.Errorf("build projector: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.projectorDone = make(chan error, 1)
	go func() { n.projectorDone <- n.projector.Run(runCtx) }()
	select {
	case <-n.projector.Running():
	case err := <-n.projectorDone:
		n.projectorDone <- err // for Close, which waits on it
		return fmt.Errorf("projector: %w", err)
	}

	n.commands = commands.New(n.raft, n.rm, c.NodeID)
	n.commands.BcryptCost = c.BcryptCost

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := &agendahttp.Server{
		Commands: n.commands,
		Queries:  n.rm,
		Node:     nodeStatus{n},
		Tokens:   &agendahttp.Tokens{Secret: []byte(c.JWTSecret), TTL: c.TokenTTL},
		Metrics:  agendahttp.NewMetrics(reg),
		Logger:   n.Logger,
	}
	if n.ln, err = net.Listen("tcp", c.HTTPAddr); err != nil {
		return fmt.Errorf("listen on %s: %w", c.HTTPAddr, err)
	}
	n.server = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	go func() {
		if err := n.server.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.Logger.Error("http server stopped", "err", err)
		}
	}()
	n.Logger.Info("agenda node started", "http_addr", n.HTTPAddr(), "raft_addr", n.raft.RaftAddr(), "data_dir", c.DataDir)
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
	if n.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := n.server.Shutdown(ctx); err != nil {
			// Handlers still running after the grace period: cut them off
			// before the stores they use are closed.
			n.server.Close()
			errs = append(errs, err)
		}
		cancel()
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
	for _, srv := range st.Servers {
		cs.Nodes = append(cs.Nodes, agendahttp.ClusterNode{ID: srv.ID, Address: srv.Address, Suffrage: srv.Suffrage, Source: "raft"})
	}
	return cs
}

func (s nodeStatus) Readiness() agendahttp.Readiness {
	leader, _ := s.n.raft.Leader()
	r := agendahttp.Readiness{Leader: leader, Position: s.n.rm.Position(), Head: s.n.store.Head()}
	switch {
	case leader == "":
		r.Reason = "no leader known"
	case !s.n.projector.Healthy():
		r.Reason = "a projection has stopped"
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
