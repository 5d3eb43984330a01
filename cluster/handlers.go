package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/fastjson"
)

// Handler returns the signed node-to-node endpoints, to be mounted at
// /internal on the node's HTTP server. Every request must be signed
// (Signer.Require).
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /internal/cluster/gossip", a.handleGossip)
	mux.HandleFunc("POST /internal/cluster/join", a.handleJoin)
	mux.HandleFunc("POST /internal/cluster/remove", a.handleRemove)
	mux.HandleFunc("POST /internal/propose", a.handlePropose)
	mux.HandleFunc("POST /internal/propose-group", a.handleProposeGroup)
	mux.HandleFunc("POST /internal/read-index", a.handleReadIndex)
	mux.HandleFunc("POST /internal/barrier", a.handleBarrier)
	return a.signer.Require(a.refusals, anyDestPaths, mux)
}

// anyDestPaths take requests signed for AnyNode (see AnyNode).
var anyDestPaths = map[string]bool{"/internal/cluster/gossip": true}

func writeWire(w http.ResponseWriter, err error) {
	status := http.StatusConflict
	we := encodeError(err)
	switch we.Kind {
	case kindNotLeader, kindNoLeader, kindShutdown, kindOutcomeUnknown:
		status = http.StatusServiceUnavailable
	case kindInternal:
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]any{"wire": we})
}

// decode reads a request that changes state (a proposal, a removal):
// a field this build does not know could carry meaning it would drop, so
// it is refused.
func decode(r *http.Request, v any) error { return decodeJSON(r, v, true) }

// decodeMembership reads gossip and joins, which tolerate fields this
// build does not know: during a rolling upgrade newer nodes announce more
// about themselves (a join's history, say), and an older node should still
// let them in on what it understands.
func decodeMembership(r *http.Request, v any) error { return decodeJSON(r, v, false) }

func decodeJSON(r *http.Request, v any, strict bool) error {
	if err := jsonDecoder(r.Body, strict).Decode(v); err != nil {
		return fmt.Errorf("%w: %v", events.ErrMalformed, err)
	}
	return nil
}

func jsonDecoder(r io.Reader, strict bool) *json.Decoder {
	dec := json.NewDecoder(r)
	if strict {
		dec.DisallowUnknownFields()
	}
	return dec
}

// decodeBatch reads a forwarded proposal as decode would, with the faster
// decoder of internal/fastjson tried first (decoding was a twentieth of a
// leader's CPU under forwarded load). The signature check has already read
// the body into memory.
func decodeBatch(r *http.Request) (events.Batch, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return events.Batch{}, fmt.Errorf("%w: %v", events.ErrMalformed, err)
	}
	return decodeBatchBytes(body)
}

// decodeBatchBytes is decodeBatch for a body already read (a batch of a
// group reads as a batch on its own).
func decodeBatchBytes(body []byte) (events.Batch, error) {
	b, err := fastjson.Unmarshal[events.Batch](body, func(data []byte, v any) error {
		return jsonDecoder(bytes.NewReader(data), true).Decode(v)
	})
	if err != nil {
		return b, fmt.Errorf("%w: %v", events.ErrMalformed, err)
	}
	return b, nil
}

func (a *Agent) handleGossip(w http.ResponseWriter, r *http.Request) {
	var msg gossipMessage
	if err := decodeMembership(r, &msg); err != nil {
		writeWire(w, err)
		return
	}
	a.absorb(msg, SourceGossip)
	writeJSON(w, http.StatusOK, gossipMessage{Self: a.members.Self(), Members: a.members.All()})
}

// Join asks the leader, through any node, to make m a voter at its current
// Raft address. It is idempotent.
func (a *Agent) Join(ctx context.Context, m Member) error {
	return a.toLeader(ctx, "/internal/cluster/join", m, func() error { return a.admit(ctx, m) })
}

// Remove asks the leader, through any node, to remove node id.
func (a *Agent) Remove(ctx context.Context, id string) error {
	return a.toLeader(ctx, "/internal/cluster/remove", removeRequest{ID: id}, func() error { return a.remove(id) })
}

// toLeader runs local on the leader, or sends body to the leader (retrying
// for a short while if there is none). Only for idempotent requests.
func (a *Agent) toLeader(ctx context.Context, path string, body any, local func() error) error {
	return retryLeader(ctx, func() (bool, error) {
		if a.raft.IsLeader() {
			err := local()
			return errors.Is(err, consensus.ErrNotLeader), err
		}
		dest, addr, err := a.leaderHTTP()
		if err != nil {
			return true, err
		}
		_, err = a.callSent(ctx, dest, addr, path, body, nil)
		return retryable(err), err
	})
}

// admit makes m a voter at its advertised address (the leader only): a new
// node is added, a known one with a new address is re-addressed, one that
// is already there is left alone.
//
// A new node that may not vote yet (m.VoteGated: it started without Raft
// state) is added as a non-voter, and made a voter when it asks again with
// its gate open. Added as a voter at once, it counted in every quorum
// while it could neither vote nor, until its address resolved, be reached:
// an operations review grew a one-voter Swarm stack to two, the leader
// stepped down, and no leader could ever be elected again (the new node
// waited for a leader to open its gate). A known voter that comes back
// gated (a lost disk) stays a voter: it still acknowledges entries.
func (a *Agent) admit(ctx context.Context, m Member) error {
	if m.ID == "" || m.RaftAddr == "" {
		return fmt.Errorf("%w: join without id or raft address", events.ErrMalformed)
	}
	a.mu.Lock()
	inc, wasRemoved := a.removed[m.ID]
	a.mu.Unlock()
	if wasRemoved && m.Incarnation <= inc {
		return errRemoved
	}
	if m.History != nil {
		if err := a.raft.CheckHistory(ctx, *m.History); errors.Is(err, consensus.ErrForeignHistory) {
			a.logForeign(m, err)
			return agenda.Errorf(agenda.ECONFLICT, "node %s cannot join: %v; move its data dir aside to join as a new node", m.ID, err)
		} else if err != nil {
			return err
		}
	}
	m.History = nil // the table keeps addresses, not histories
	a.members.Heard(m, SourceJoin, time.Now())
	servers, err := a.raft.Servers()
	if err != nil {
		return err
	}
	voter := false
	for _, s := range servers {
		if s.ID != m.ID {
			continue
		}
		if s.Address == m.RaftAddr && (s.Suffrage == "Voter" || m.VoteGated) {
			return nil // there already, or to stay a non-voter for now
		}
		voter = s.Suffrage == "Voter"
	}
	// The joiner counts before the configuration lists it: batches
	// proposed here from now on hold only what it reads.
	a.joining(m.ID)
	a.updateLevel()
	if m.VoteGated && !voter {
		a.logger.Info("adding non-voter until it has caught up", "action", "cluster.node_joined", "joined", m.ID, "raft_addr", m.RaftAddr, "http_addr", m.HTTPAddr)
		return a.raft.AddNonvoter(m.ID, m.RaftAddr)
	}
	a.logger.Info("adding voter", "action", "cluster.node_joined", "joined", m.ID, "raft_addr", m.RaftAddr, "http_addr", m.HTTPAddr)
	return a.raft.AddVoter(m.ID, m.RaftAddr)
}

// logForeign logs a join refused for its history, once a minute per node:
// the refused node asks again every gossip round.
func (a *Agent) logForeign(m Member, err error) {
	if ok, _ := a.foreignJoins.Allow(m.ID); ok {
		a.logger.Warn("join refused", "action", "cluster.join_refused", "node", m.ID, "raft_addr", m.RaftAddr, "http_addr", m.HTTPAddr, "err", err)
	}
}

type removeRequest struct {
	ID string `json:"id"`
}

func (a *Agent) remove(id string) error {
	servers, err := a.raft.Servers()
	if err != nil {
		return err
	}
	found := false
	for _, s := range servers {
		found = found || s.ID == id
	}
	if !found {
		return errUnknownNode
	}
	a.logger.Warn("removing node on request", "action", "cluster.node_removed", "removed", id)
	// Recorded before the removal commits: the node, seeing itself gone,
	// asks to join at once, and a join that came in before the record was
	// admitted (a full CI run saw the removed node a voter again at once).
	m, _ := a.members.Get(id)
	a.mu.Lock()
	if a.removed == nil {
		a.removed = map[string]int64{}
	}
	before, had := a.removed[id]
	a.removed[id] = m.Incarnation
	a.mu.Unlock()
	if err := a.raft.RemoveServer(id); err != nil {
		a.mu.Lock()
		if had {
			a.removed[id] = before
		} else {
			delete(a.removed, id)
		}
		a.mu.Unlock()
		return err
	}
	a.members.Forget(id)
	return nil
}

func (a *Agent) handleJoin(w http.ResponseWriter, r *http.Request) {
	var m Member
	if err := decodeMembership(r, &m); err != nil {
		writeWire(w, err)
		return
	}
	if err := a.Join(r.Context(), m); err != nil {
		writeWire(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "joined"})
}

func (a *Agent) handleRemove(w http.ResponseWriter, r *http.Request) {
	var req removeRequest
	if err := decode(r, &req); err != nil {
		writeWire(w, err)
		return
	}
	if err := a.Remove(r.Context(), req.ID); err != nil {
		writeWire(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "removed"})
}

// committedWire is events.Committed on the wire.
type committedWire struct {
	FirstPosition int64  `json:"first_position"`
	LastPosition  int64  `json:"last_position"`
	Index         uint64 `json:"index"`
}

func wireOfCommitted(c events.Committed) committedWire {
	return committedWire{c.FirstPosition, c.LastPosition, c.Index}
}

// handlePropose proposes a forwarded batch on this node, which the sender
// believes leads. It never forwards again: a node that is not the leader
// says so and the sender looks for the new one.
func (a *Agent) handlePropose(w http.ResponseWriter, r *http.Request) {
	b, err := decodeBatch(r)
	if err != nil {
		writeWire(w, err)
		return
	}
	if !a.raft.IsLeader() {
		writeWire(w, consensus.ErrNotLeader)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout(max(r.ContentLength, 0))-proposeMargin)
	defer cancel()
	c, err := a.proposeHere(ctx, b)
	if err != nil {
		writeWire(w, err)
		return
	}
	// The sender answers its client once its own read model shows the
	// batch, which needs it to learn the commit index.
	a.raft.PublishCommit()
	writeJSON(w, http.StatusOK, wireOfCommitted(c))
}

type readIndexWire struct {
	Index uint64 `json:"index"`
}

func (a *Agent) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := decode(r, &req); err != nil {
		writeWire(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	idx, err := a.raft.ReadIndex(ctx)
	if err != nil {
		writeWire(w, err)
		return
	}
	writeJSON(w, http.StatusOK, readIndexWire{idx})
}

// BarrierWait bounds how long a node answering /internal/barrier takes to
// reach the cluster's read index: a node that cannot (no leader, cut off,
// far behind) is refused rather than waited for.
const BarrierWait = 10 * time.Second

// Barrier is what /internal/barrier answers: the node's ID and the
// incarnation its start recorded in its data dir (so that a caller can
// tell it is the node running on the dir it copies), the commit index it
// reached, and the index its event store had applied by then, which
// covers every write up to Commit (StoreApplied).
type Barrier struct {
	NodeID      string `json:"node_id"`
	Incarnation int64  `json:"incarnation"`
	Commit      uint64 `json:"commit"`
	Store       uint64 `json:"store"`
}

// handleBarrier answers once this node's event store holds every write the
// cluster had acknowledged when the request came: a read index from the
// leader, then the wait for this node's state machine to apply it. `agenda
// backup` asks it of the node whose store it copies: a review restored a
// backup taken on a node just restarted, 50 acknowledged writes short. A
// node whose history the cluster refused confirms nothing.
func (a *Agent) handleBarrier(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := decode(r, &req); err != nil {
		writeWire(w, err)
		return
	}
	if err := a.Fence(); err != nil {
		writeWire(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), BarrierWait)
	defer cancel()
	idx, err := a.ReadIndex(ctx)
	if err == nil {
		if err = a.raft.WaitApplied(ctx, idx); err != nil {
			err = agenda.Errorf(agenda.EUNAVAILABLE, "this node has not applied the cluster's commit index %d within %s", idx, BarrierWait)
		}
	}
	if err != nil {
		writeWire(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Barrier{NodeID: a.raft.ID(), Incarnation: a.cfg.Self.Incarnation, Commit: idx, Store: a.raft.StoreApplied()})
}

// BarrierVia asks the node at addr (HTTP host:port) to confirm that its
// event store holds every write the cluster has acknowledged (see
// handleBarrier). Signed with the cluster secret, as RemoveVia is.
func BarrierVia(ctx context.Context, addr string, secret []byte, tlsConfig *tls.Config) (Barrier, error) {
	var out Barrier
	err := callVia(ctx, addr, secret, tlsConfig, "/internal/barrier", struct{}{}, &out)
	return out, err
}

// Unavailable reports whether err, from BarrierVia, is the cluster's
// answer that the node cannot confirm now (no leader, not caught up, its
// history refused), rather than a failure to ask (an address, a secret).
func Unavailable(err error) bool {
	return NoLeader(err) || errors.Is(err, consensus.ErrShutdown) || agenda.ErrorCode(err) == agenda.EUNAVAILABLE
}

// NoLeader reports whether err says that no leader could answer: none is
// known, or the node asked is not (or no longer) the leader. From
// BarrierVia: the node is cut off from the cluster's majority, or the
// cluster has lost it (ErrNotLeader is what a leader that lost its quorum
// answers as it steps down).
func NoLeader(err error) bool {
	return errors.Is(err, consensus.ErrNoLeader) || errors.Is(err, consensus.ErrNotLeader)
}

// RemoveVia asks the node at addr (HTTP host:port) to remove node id from
// the cluster; the node forwards the request to the leader. It is what
// `agenda cluster remove-node` runs, signed with the cluster secret for the
// node at addr, whose ID it first reads from its public /cluster/status.
// tlsConfig, if set, makes it talk HTTPS (see Config.TLS).
func RemoveVia(ctx context.Context, addr string, secret []byte, tlsConfig *tls.Config, id string) error {
	return callVia(ctx, addr, secret, tlsConfig, "/internal/cluster/remove", removeRequest{ID: id}, nil)
}

// callVia is how a command outside the cluster (the CLI) calls a node's
// signed endpoint: it reads the node's ID at addr from its public
// /cluster/status, then signs the request for that node with the cluster
// secret, as "agenda-cli".
func callVia(ctx context.Context, addr string, secret []byte, tlsConfig *tls.Config, path string, v, out any) error {
	a := &Agent{cfg: Config{TLS: tlsConfig}, signer: NewSigner(secret, "agenda-cli"), client: newClient(tlsConfig)}
	defer a.client.CloseIdleConnections()
	dest, err := a.nodeIDAt(ctx, addr)
	if err != nil {
		return err
	}
	return a.call(ctx, dest, addr, path, v, out)
}

// nodeIDAt reads the ID of the node at addr from its /cluster/status.
func (a *Agent) nodeIDAt(ctx context.Context, addr string) (string, error) {
	st, err := a.statusAt(ctx, addr)
	if err != nil {
		return "", fmt.Errorf("read the node ID at %s: %w", addr, err)
	}
	return st.NodeID, nil
}

// publicStatus is what the CLI reads of a node's /cluster/status.
type publicStatus struct {
	NodeID string `json:"node_id"`
	Nodes  []struct {
		ID       string `json:"id"`
		Suffrage string `json:"suffrage"`
	} `json:"nodes"`
}

// statusAt reads the public /cluster/status of the node at addr.
func (a *Agent) statusAt(ctx context.Context, addr string) (publicStatus, error) {
	var st publicStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.scheme()+"://"+addr+"/cluster/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil || resp.StatusCode != http.StatusOK || st.NodeID == "" {
		return st, fmt.Errorf("status %d, %v", resp.StatusCode, err)
	}
	return st, nil
}

// VotersVia returns the sorted IDs of the voters the node at addr sees in
// its configuration, read from its public /cluster/status (what
// `agenda cluster remove-node` reports after a removal).
func VotersVia(ctx context.Context, addr string, tlsConfig *tls.Config) ([]string, error) {
	a := &Agent{cfg: Config{TLS: tlsConfig}, client: newClient(tlsConfig)}
	defer a.client.CloseIdleConnections()
	st, err := a.statusAt(ctx, addr)
	if err != nil {
		return nil, err
	}
	var voters []string
	for _, n := range st.Nodes {
		if strings.EqualFold(n.Suffrage, "voter") {
			voters = append(voters, n.ID)
		}
	}
	slices.Sort(voters)
	return voters, nil
}
