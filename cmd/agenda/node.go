package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

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
	api       *agendahttp.Server
	ln        net.Listener // bound, for its address
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

	ready *readyClock // when it was last caught up (Readiness)

	// rebuilding is set while the node rebuilds stores it discarded at
	// start (rebuild.go): it serves no API request until caught up.
	rebuilding atomic.Bool
	// rebuilt reports whether it has caught up (nil: strict readiness);
	// a test may stand in for it.
	rebuilt func() bool

	projectorDone chan error
	cancel        context.CancelFunc
	closeOnce     sync.Once
	closeErr      error
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
	if n.api != nil {
		// No more requests: what the audit trail's refusal throttle
		// still holds back is written before the trail closes.
		n.api.FlushAudit()
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
		Position: s.n.rm.Position(), Era: s.n.raft.Era().Token(), EventLevel: s.n.agent.EventLevel(), Nodes: []agendahttp.ClusterNode{},
	}
	if sup := s.n.raft.Superseded(); sup != nil {
		cs.LeftOut = cluster.SupersededError(sup).Error()
	}
	members := s.n.agent.Members()
	inConfig := map[string]bool{}
	unreachable := s.n.raft.Unreachable()
	now := time.Now().UTC()
	for _, srv := range st.Servers {
		inConfig[srv.ID] = true
		node := agendahttp.ClusterNode{ID: srv.ID, Address: srv.Address, Suffrage: srv.Suffrage, Source: cluster.SourceRaft,
			EventLevel: members.Level(srv.ID)}
		if m, ok := members.Get(srv.ID); ok {
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
	for _, m := range members.All() {
		if inConfig[m.ID] || now.Sub(m.LastSeen) > time.Minute {
			continue
		}
		node := agendahttp.ClusterNode{ID: m.ID, Address: m.RaftAddr, Suffrage: "None", Source: m.Source,
			EventLevel: members.Level(m.ID)}
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
	return s.n.ready.judge(s.strictReadiness(), time.Now())
}

// strictReadiness is the node's readiness with no grace for a lag.
func (s nodeStatus) strictReadiness() agendahttp.Readiness {
	leader, _ := s.n.raft.Leader()
	r := agendahttp.Readiness{Leader: leader, Position: s.n.rm.Position(), Head: s.n.store.Head()}
	switch {
	case s.n.raft.IsShutdown():
		r.Reason = "raft has stopped (removed from the cluster?)"
	case s.n.raft.Superseded() != nil:
		r.Reason = cluster.SupersededError(s.n.raft.Superseded()).Error()
	case s.n.agent.Removed():
		r.Reason = "removed from the cluster (agenda cluster remove-node) while it ran: it serves nothing; restart it to join again, or stop it"
	case leader == "":
		r.Reason = "no leader known"
	case s.n.agent.Refused():
		r.Reason = "the cluster refuses this node's history as another's: move its data dir aside"
	case !s.n.agent.IsMember():
		r.Reason = "not (yet) in the cluster's configuration at this address"
	case s.n.raft.VoteGated():
		r.Reason = "catching up with the cluster before it may vote"
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
	case s.n.raft.Unproven():
		r.Reason = reasonUnproven
	case s.n.raft.AwaitingCommitIndex():
		r.Reason = reasonAwaitingCommit
	case !s.n.raft.CaughtUp():
		r.Reason = reasonApplying
	case r.Position < r.Head:
		r.Reason = reasonProjecting
	default:
		r.Ready = true
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
		w.Write([]byte(`{"error":{"code":"unavailable","message":"the node is starting"}}` + "\n"))
	})
	return &h
}
