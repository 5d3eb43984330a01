package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// heldRaft is a leader whose proposals wait until released, so that a
// test can keep exchanges in flight; its verdict depends on the batch: a
// batch expecting stream "taken" meets a version conflict, any other
// commits at positions made of its first event's version.
type heldRaft struct {
	*fakeRaft
	arrived chan string   // each proposal's first event ID, as it arrives
	release chan struct{} // closed to let every proposal through

	mu        sync.Mutex
	proposals map[string]int // by first event ID
	publishes int
}

func newHeldRaft() *heldRaft {
	return &heldRaft{fakeRaft: &fakeRaft{id: "l", leader: "l"}, arrived: make(chan string, 1024),
		release: make(chan struct{}), proposals: map[string]int{}}
}

func (r *heldRaft) Propose(ctx context.Context, b events.Batch) (events.Committed, error) {
	r.arrived <- b.Events[0].ID
	select {
	case <-r.release:
	case <-ctx.Done():
		return events.Committed{}, events.ErrOutcomeUnknown
	}
	r.mu.Lock()
	r.proposals[b.Events[0].ID]++
	r.mu.Unlock()
	if len(b.Expect) > 0 && b.Expect[0].Stream == "taken" {
		return events.Committed{}, &events.VersionConflictError{Stream: "taken", Expected: 0, Actual: 1, Position: 9}
	}
	v := b.Events[0].Version
	return events.Committed{FirstPosition: 10 * v, LastPosition: 10*v + 1, Index: uint64(v)}, nil
}

func (r *heldRaft) PublishCommit() {
	r.mu.Lock()
	r.publishes++
	r.mu.Unlock()
}

func (r *heldRaft) proposed(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proposals[id]
}

// groupBatch is forwarded batch i: one event of version i+1, expecting
// stream "taken" if conflict.
func groupBatch(t *testing.T, i int, conflict bool) events.Batch {
	t.Helper()
	e, err := events.New(fmt.Sprintf("e%d", i), "s", int64(i+1), events.AppointmentDeleted{AppointmentID: fmt.Sprintf("a%d", i)}, events.Meta{OriginNode: "f"})
	if err != nil {
		t.Fatal(err)
	}
	b := events.Batch{Events: []events.Envelope{e}}
	if conflict {
		b.Expect = []events.Expectation{{Stream: "taken"}}
	}
	return b
}

// groupCluster is a follower forwarding to a held leader over signed HTTP,
// with the paths of the exchanges the leader received. Wrap, if not nil,
// stands in front of the leader's handler (an older build, a cut link).
type groupCluster struct {
	follower *Agent
	raft     *heldRaft

	mu      sync.Mutex
	paths   []string
	grouped []int // OnForwardGroup's counts
}

func newGroupCluster(t *testing.T, wrap func(http.Handler) http.Handler) *groupCluster {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	gc := &groupCluster{raft: newHeldRaft()}
	leader := NewAgent(Config{Self: Member{ID: "l"}, Secret: testSecret, Logger: logger}, gc.raft)
	h := leader.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gc.mu.Lock()
		gc.paths = append(gc.paths, r.URL.Path)
		gc.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	gc.follower = NewAgent(Config{Self: Member{ID: "f"}, Secret: testSecret, Logger: logger, OnForwardGroup: func(n int) {
		gc.mu.Lock()
		gc.grouped = append(gc.grouped, n)
		gc.mu.Unlock()
	}}, &fakeRaft{id: "f", leader: "l"})
	gc.follower.members.Heard(Member{ID: "l", HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), Incarnation: 1}, SourceSeed, time.Now())
	return gc
}

// count returns how many exchanges went to path.
func (gc *groupCluster) count(path string) int {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	n := 0
	for _, p := range gc.paths {
		if p == path {
			n++
		}
	}
	return n
}

type proposeResult struct {
	c   events.Committed
	err error
}

// propose forwards b on its own goroutine.
func (gc *groupCluster) propose(ctx context.Context, b events.Batch) chan proposeResult {
	ch := make(chan proposeResult, 1)
	go func() {
		c, err := gc.follower.Propose(ctx, b)
		ch <- proposeResult{c, err}
	}()
	return ch
}

// fillExchanges forwards groupInFlight batches (IDs e1000…) and waits until
// the leader holds them all, so that what is forwarded next queues.
func (gc *groupCluster) fillExchanges(t *testing.T, ctx context.Context) []chan proposeResult {
	t.Helper()
	var first []chan proposeResult
	for i := range groupInFlight {
		first = append(first, gc.propose(ctx, groupBatch(t, 1000+i, false)))
	}
	for range groupInFlight {
		select {
		case <-gc.raft.arrived:
		case <-ctx.Done():
			t.Fatal("the first exchanges never reached the leader")
		}
	}
	return first
}

// queueBehind fills the exchanges, then forwards batches 0…n-1 (batch
// conflict, if in range, expecting a taken stream) and waits until they
// all queue behind them. The leader still holds everything.
func (gc *groupCluster) queueBehind(t *testing.T, ctx context.Context, n, conflict int) (first, queued []chan proposeResult) {
	t.Helper()
	first = gc.fillExchanges(t, ctx)
	for i := range n {
		queued = append(queued, gc.propose(ctx, groupBatch(t, i, i == conflict)))
	}
	gc.waitQueued(t, n)
	return first, queued
}

// onGroups answers /internal/propose-group with answer instead of the
// leader (an older build, a cut link); other paths reach the leader.
func onGroups(answer http.HandlerFunc) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/internal/propose-group" {
				answer(w, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// waitQueued waits until n batches wait in the follower's queues.
func (gc *groupCluster) waitQueued(t *testing.T, n int) {
	t.Helper()
	gc.waitForwarder(t, "batches queued", n, func(f *forwarder) int {
		queued := 0
		for _, q := range f.q {
			queued += len(q.pending)
		}
		return queued
	})
}

// waitQueues waits until the follower keeps n queues.
func (gc *groupCluster) waitQueues(t *testing.T, n int) {
	t.Helper()
	gc.waitForwarder(t, "queues kept", n, func(f *forwarder) int { return len(f.q) })
}

// waitForwarder waits until count, read under the follower's forwarder's
// lock, is want.
func (gc *groupCluster) waitForwarder(t *testing.T, what string, want int, count func(*forwarder) int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := &gc.follower.forwarder
		f.mu.Lock()
		got := count(f)
		f.mu.Unlock()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s, want %d", got, what, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Batches that find the exchanges to the leader busy queue and go together
// in one exchange, and each caller gets its own batch's verdict: committed
// where it was, and the conflict where it met one, as if it had gone alone.
func TestForwardedBatchesQueuedGoTogether(t *testing.T) {
	gc := newGroupCluster(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 10
	first, queued := gc.queueBehind(t, ctx, n, 3)
	close(gc.raft.release)

	for i, ch := range first {
		if r := <-ch; r.err != nil || r.c.FirstPosition != int64(10*(1001+i)) {
			t.Errorf("lone batch %d: %+v, %v", i, r.c, r.err)
		}
	}
	for i, ch := range queued {
		r := <-ch
		if i == 3 {
			var vc *events.VersionConflictError
			if !errors.As(r.err, &vc) || vc.Position != 9 {
				t.Errorf("batch 3 (a conflict): %v, want its version conflict", r.err)
			}
			continue
		}
		want := events.Committed{FirstPosition: int64(10 * (i + 1)), LastPosition: int64(10*(i+1) + 1), Index: uint64(i + 1)}
		if r.err != nil || r.c != want {
			t.Errorf("batch %d: %+v, %v; want %+v", i, r.c, r.err, want)
		}
	}
	if got := gc.count("/internal/propose-group"); got != 1 {
		t.Errorf("%d group exchanges, want the %d queued batches in 1", got, n)
	}
	if got := gc.count("/internal/propose"); got != groupInFlight {
		t.Errorf("%d lone exchanges, want %d", got, groupInFlight)
	}
	gc.mu.Lock()
	grouped := append([]int(nil), gc.grouped...)
	gc.mu.Unlock()
	if len(grouped) != 1 || grouped[0] != n {
		t.Errorf("groups reported for metrics: %v, want [%d]", grouped, n)
	}
	for i := range n {
		if p := gc.raft.proposed(fmt.Sprintf("e%d", i)); p != 1 {
			t.Errorf("batch %d proposed %d times, want once", i, p)
		}
	}
	// One publish for the group, one for each lone batch.
	gc.raft.mu.Lock()
	publishes := gc.raft.publishes
	gc.raft.mu.Unlock()
	if publishes != groupInFlight+1 {
		t.Errorf("%d commit publishes, want %d", publishes, groupInFlight+1)
	}
	// Once every exchange has ended, nothing of this leader is kept: a
	// node that outlives many leaders (or one leader's addresses) keeps
	// no queue for each.
	gc.waitQueues(t, 0)
}

// A caller that gives up while its batch still waits in the queue takes it
// back: it is never sent, and the caller hears the cluster unavailable (as
// when no leader answers), not an unknown outcome.
func TestForwardedBatchGivenUpWhileQueuedIsNeverSent(t *testing.T) {
	gc := newGroupCluster(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first := gc.fillExchanges(t, ctx)
	short, cancelShort := context.WithCancel(ctx)
	gave := gc.propose(short, groupBatch(t, 1, false))
	kept := gc.propose(ctx, groupBatch(t, 2, false))
	gc.waitQueued(t, 2)
	cancelShort()
	r := <-gave
	if agenda.ErrorCode(r.err) != agenda.EUNAVAILABLE || errors.Is(r.err, events.ErrOutcomeUnknown) {
		t.Fatalf("gave up while queued: %v, want unavailable", r.err)
	}
	gc.waitQueued(t, 1)
	close(gc.raft.release)
	for _, ch := range first {
		<-ch
	}
	if r := <-kept; r.err != nil {
		t.Fatalf("the batch still queued: %v", r.err)
	}
	if p := gc.raft.proposed("e1"); p != 0 {
		t.Fatalf("the batch given up was proposed %d times", p)
	}
}

// A leader of an older build does not know groups (404): the batches of
// the group go alone instead, every caller gets its verdict, and the next
// batches that queue go alone too rather than trying a group again.
func TestForwardedGroupsFallBackForAnOlderLeader(t *testing.T) {
	gc := newGroupCluster(t, onGroups(http.NotFound))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, queued := gc.queueBehind(t, ctx, 3, -1)
	close(gc.raft.release)
	for _, ch := range append(first, queued...) {
		if r := <-ch; r.err != nil {
			t.Fatalf("forwarded to an older leader: %v", r.err)
		}
	}
	if got := gc.count("/internal/propose-group"); got != 1 {
		t.Fatalf("%d group exchanges, want the one that found the path unknown", got)
	}
	// Busy again: these go alone at once, nothing queues.
	var more []chan proposeResult
	for i := range 2 * groupInFlight {
		more = append(more, gc.propose(ctx, groupBatch(t, 100+i, false)))
	}
	for _, ch := range more {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	if got := gc.count("/internal/propose-group"); got != 1 {
		t.Fatalf("%d group exchanges after the fallback, want still 1", got)
	}
}

// An exchange cut after the leader took it leaves every batch in it with
// an unknown outcome (the leader may have committed any of them), never a
// refusal its caller would repeat as a new write.
func TestForwardedGroupCutIsOutcomeUnknownForEach(t *testing.T) {
	gc := newGroupCluster(t, onGroups(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, queued := gc.queueBehind(t, ctx, 3, -1)
	close(gc.raft.release)
	for _, ch := range first {
		<-ch
	}
	for i, ch := range queued {
		if r := <-ch; !errors.Is(r.err, events.ErrOutcomeUnknown) {
			t.Errorf("batch %d of a cut exchange: %v, want outcome unknown", i, r.err)
		}
	}
}

// The leader refuses a group it cannot read, or of no batch or too many,
// as a whole; a malformed batch in a readable group is refused alone.
func TestProposeGroupRefusesMalformed(t *testing.T) {
	gc := newGroupCluster(t, nil)
	close(gc.raft.release)
	addr := gc.follower.members.HTTPAddr("l")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	post := func(body string) (groupAnswer, error) {
		var ans groupAnswer
		_, err := gc.follower.callSentBody(ctx, "l", addr, "/internal/propose-group", []byte(body), &ans)
		return ans, err
	}
	many := `{"batches":[` + strings.Repeat(`{},`, groupMaxBatches) + `{}]}`
	for _, body := range []string{`{"batches":[]}`, many, `{"batches":[{}],"request_ids":["a","b"]}`, `{"batches":[{}],"x":1}`, `[`} {
		if _, err := post(body); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%.40s: %v, want malformed", body, err)
		}
	}
	good := groupBatch(t, 4, false)
	goodJSON, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := post(`{"batches":[{"events":[{"id":1}]},` + string(goodJSON) + `]}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Results) != 2 {
		t.Fatalf("%d results, want 2", len(ans.Results))
	}
	if r := ans.Results[0].result(); !errors.Is(r.err, events.ErrMalformed) {
		t.Errorf("the malformed batch: %v, want malformed", r.err)
	}
	if r := ans.Results[1].result(); r.err != nil || r.out.FirstPosition != 50 {
		t.Errorf("the good batch: %+v, %v", r.out, r.err)
	}
}
