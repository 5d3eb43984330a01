package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/reqid"
)

// Forwarded batches travel together when they queue up.
//
// Each forwarded write used to be one HTTP exchange with the leader, and
// on a small machine the exchange cost the leader about as much as a whole
// request from a client: reading it, checking its signature, one write for
// its answer, the goroutine hand-offs between. At 64 clients spread over
// three nodes the hop was about a tenth of the cluster's CPU (see "What a
// forwarded write costs" in docs/performance.md). So a follower sends the
// batches waiting for the same leader together, as hashicorp/raft groups
// entries: one exchange, one signature, one answer with each batch's
// verdict.
//
// A lone write never waits for company: while fewer than groupInFlight
// exchanges are under way to the leader, a batch goes at once, alone, to
// /internal/propose as it always did. Only batches that find that many in
// flight queue, and the next exchange to finish sends the queue, up to
// groupMaxBatches at a time, to /internal/propose-group.
//
// What each caller sees is what a lone forward would have told it
// (callSentBody's results): each batch's verdict is its own, and a
// failure of the exchange itself is every batch's failure, with the
// same "may it have been sent" answer. A caller that gives up while its
// batch is still queued takes it back unsent; once taken into an
// exchange it is reported as possibly sent, which the caller treats as an
// unknown outcome and resolves by proposing the same batch again.
//
// A leader of an older build answers 404 to /internal/propose-group (it
// routes the path to nothing, so it proposed nothing): the follower then
// sends that exchange's batches alone and sends everything alone for
// groupRetryOld before it tries a group again.
const (
	groupInFlight   = 4
	groupMaxBatches = 64
	// groupMaxBytes bounds a group's body; a batch of more than a quarter
	// of it always goes alone.
	groupMaxBytes = 1 << 20
	groupRetryOld = time.Minute
)

// forwarder queues forwarded batches by leader.
type forwarder struct {
	a  *Agent
	mu sync.Mutex
	q  map[string]*forwardQueue // by leader ID and HTTP address
}

// forwardQueue is what is under way to one leader.
type forwardQueue struct {
	dest, addr string
	inFlight   int
	pending    []*forwardItem
	// noGroups: until then the leader is taken not to know groups.
	noGroups time.Time
}

type forwardItem struct {
	ctx   context.Context
	body  []byte
	taken bool // by an exchange (under forwarder.mu)
	done  chan forwardResult
}

// forwardResult is callSentBody's answer for one batch.
type forwardResult struct {
	sent bool
	out  committedWire
	err  error
}

// forward sends one encoded batch to the leader dest at addr and reports
// as callSentBody does.
func (f *forwarder) forward(ctx context.Context, dest, addr string, body []byte) (committedWire, bool, error) {
	if len(body) > groupMaxBytes/4 {
		return f.alone(ctx, dest, addr, body)
	}
	f.mu.Lock()
	q := f.queue(dest, addr)
	if q.inFlight < groupInFlight || time.Now().Before(q.noGroups) {
		q.inFlight++
		f.mu.Unlock()
		out, sent, err := f.alone(ctx, dest, addr, body)
		f.release(q)
		return out, sent, err
	}
	it := &forwardItem{ctx: ctx, body: body, done: make(chan forwardResult, 1)}
	q.pending = append(q.pending, it)
	f.mu.Unlock()
	select {
	case r := <-it.done:
		return r.out, r.sent, r.err
	case <-ctx.Done():
	}
	f.mu.Lock()
	taken := it.taken
	if !taken {
		for i, p := range q.pending {
			if p == it {
				q.pending = append(q.pending[:i], q.pending[i+1:]...)
				break
			}
		}
	}
	f.forgetIdle(q)
	f.mu.Unlock()
	return committedWire{}, taken, &url.Error{Op: "Post", URL: addr + "/internal/propose-group", Err: ctx.Err()}
}

// queue returns the queue to dest at addr; the caller holds f.mu.
func (f *forwarder) queue(dest, addr string) *forwardQueue {
	key := queueKey(dest, addr)
	q := f.q[key]
	if q == nil {
		if f.q == nil {
			f.q = map[string]*forwardQueue{}
		}
		q = &forwardQueue{dest: dest, addr: addr}
		f.q[key] = q
	}
	return q
}

func queueKey(dest, addr string) string { return dest + " " + addr }

// forgetIdle drops q once nothing is under way or waiting in it and it has
// nothing to remember (noGroups), so that the queues of former leaders, and
// of a leader's former addresses, do not stay for the node's lifetime. No
// one else holds an idle queue: callers find theirs under f.mu, which the
// caller holds, and a new one is made on the next forward. The caller
// holds f.mu.
func (f *forwarder) forgetIdle(q *forwardQueue) {
	if q.inFlight == 0 && len(q.pending) == 0 && !time.Now().Before(q.noGroups) {
		delete(f.q, queueKey(q.dest, q.addr))
	}
}

// alone is one batch in one exchange, as every batch went before groups.
func (f *forwarder) alone(ctx context.Context, dest, addr string, body []byte) (committedWire, bool, error) {
	var out committedWire
	sent, err := f.a.callSentBody(ctx, dest, addr, "/internal/propose", body, &out)
	return out, sent, err
}

// sendAlone forwards a queued batch in an exchange of its own and tells
// its caller the result.
func (f *forwarder) sendAlone(q *forwardQueue, it *forwardItem) {
	out, sent, err := f.alone(it.ctx, q.dest, q.addr, it.body)
	it.done <- forwardResult{sent, out, err}
}

// release ends an exchange and starts the next ones the queue needs.
func (f *forwarder) release(q *forwardQueue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q.inFlight--
	for len(q.pending) > 0 && q.inFlight < groupInFlight {
		n, size := 0, 0
		for n < len(q.pending) && n < groupMaxBatches && (n == 0 || size+len(q.pending[n].body) <= groupMaxBytes) {
			size += len(q.pending[n].body)
			n++
		}
		group := append([]*forwardItem(nil), q.pending[:n]...)
		q.pending = append(q.pending[:0], q.pending[n:]...)
		for _, it := range group {
			it.taken = true
		}
		q.inFlight++
		go f.send(q, group)
	}
	f.forgetIdle(q)
}

// send forwards a group (a group of one alone) and tells each batch's
// caller its result.
func (f *forwarder) send(q *forwardQueue, group []*forwardItem) {
	defer f.release(q)
	if len(group) == 1 {
		it := group[0]
		f.sendAlone(q, it)
		return
	}
	var body bytes.Buffer
	ids := make([]string, len(group))
	body.WriteString(`{"batches":[`)
	// The exchange lasts as long as its most patient batch; a batch whose
	// caller gives up sooner is reported by its caller (forward).
	deadline := time.Time{}
	for i, it := range group {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(it.body)
		ids[i] = reqid.From(it.ctx)
		d, ok := it.ctx.Deadline()
		if !ok {
			d = time.Now().Add(forwardTimeout(groupMaxBytes))
		}
		if d.After(deadline) {
			deadline = d
		}
	}
	body.WriteString(`],"request_ids":`)
	idsJSON, _ := json.Marshal(ids)
	body.Write(idsJSON)
	body.WriteByte('}')

	if f.a.cfg.OnForwardGroup != nil {
		f.a.cfg.OnForwardGroup(len(group))
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	var ans groupAnswer
	sent, err := f.a.callSentBody(ctx, q.dest, q.addr, "/internal/propose-group", body.Bytes(), &ans)
	cancel()
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusNotFound {
		// An older leader: it proposed nothing. Each batch goes alone, and
		// so does everything for a while.
		f.mu.Lock()
		q.noGroups = time.Now().Add(groupRetryOld)
		f.mu.Unlock()
		var wg sync.WaitGroup
		for _, it := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.sendAlone(q, it)
			}()
		}
		wg.Wait()
		return
	}
	if err == nil && len(ans.Results) != len(group) {
		sent, err = true, &lostAnswer{fmt.Errorf("%d results for %d batches", len(ans.Results), len(group))}
	}
	for i, it := range group {
		if err != nil {
			it.done <- forwardResult{sent: sent, err: err}
			continue
		}
		it.done <- ans.Results[i].result()
	}
}

// groupRequest is the body of /internal/propose-group: batches as
// /internal/propose takes them, and each one's client request ID (for the
// leader's log; "" for none).
type groupRequest struct {
	Batches    []json.RawMessage `json:"batches"`
	RequestIDs []string          `json:"request_ids"`
}

// groupAnswer holds one result per batch, in order.
type groupAnswer struct {
	Results []groupResult `json:"results"`
}

// groupResult is a batch's verdict: what /internal/propose would have
// answered it.
type groupResult struct {
	Committed *committedWire `json:"committed,omitempty"`
	Wire      *wireError     `json:"wire,omitempty"`
}

func (r groupResult) result() forwardResult {
	switch {
	case r.Wire != nil:
		return forwardResult{sent: true, err: r.Wire.err()}
	case r.Committed != nil:
		return forwardResult{sent: true, out: *r.Committed}
	}
	return forwardResult{sent: true, err: &lostAnswer{errors.New("a result with no verdict")}}
}

// handleProposeGroup proposes the batches of a group as handlePropose
// proposes one, all at once (Raft puts what arrives together in one
// append), and answers each one's verdict.
func (a *Agent) handleProposeGroup(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeWire(w, fmt.Errorf("%w: %v", events.ErrMalformed, err))
		return
	}
	var req groupRequest
	if err := jsonDecoder(bytes.NewReader(body), true).Decode(&req); err != nil {
		writeWire(w, fmt.Errorf("%w: %v", events.ErrMalformed, err))
		return
	}
	if n := len(req.Batches); n == 0 || n > groupMaxBatches || (req.RequestIDs != nil && len(req.RequestIDs) != n) {
		writeWire(w, fmt.Errorf("%w: a group holds 1 to %d batches and as many request IDs, not %d and %d",
			events.ErrMalformed, groupMaxBatches, n, len(req.RequestIDs)))
		return
	}
	if !a.raft.IsLeader() {
		writeWire(w, consensus.ErrNotLeader)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout(int64(len(body)))-proposeMargin)
	defer cancel()
	results := make([]groupResult, len(req.Batches))
	var committed atomic.Bool
	var wg sync.WaitGroup
	for i, raw := range req.Batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bctx := ctx
			if req.RequestIDs != nil && req.RequestIDs[i] != "" {
				bctx = reqid.With(ctx, req.RequestIDs[i])
			}
			b, err := decodeBatchBytes(raw)
			if err == nil {
				var c events.Committed
				if c, err = a.proposeHere(bctx, b); err == nil {
					cw := wireOfCommitted(c)
					results[i].Committed = &cw
					committed.Store(true)
					return
				}
			}
			we := encodeError(err)
			results[i].Wire = &we
		}()
	}
	wg.Wait()
	if committed.Load() {
		a.raft.PublishCommit() // as handlePropose: the senders wait to see them
	}
	writeJSON(w, http.StatusOK, groupAnswer{Results: results})
}
