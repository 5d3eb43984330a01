package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

// TestWireErrorRoundTrip checks that every error a proposal can end in
// survives the trip through JSON with the identity commands rely on.
func TestWireErrorRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"version conflict", fmt.Errorf("wrapped: %w", &events.VersionConflictError{Stream: "user-1", Expected: 3, Actual: 4, Position: 17}), func(err error) bool {
			var vc *events.VersionConflictError
			return errors.As(err, &vc) && *vc == events.VersionConflictError{Stream: "user-1", Expected: 3, Actual: 4, Position: 17}
		}},
		{"duplicate", &events.DuplicateEventError{EventID: "e1", Position: 9}, func(err error) bool {
			var d *events.DuplicateEventError
			return errors.As(err, &d) && d.EventID == "e1" && d.Position == 9
		}},
		{"above the level", &events.AboveLevelError{Level: 1, Type: "group.created", SchemaVersion: 2}, func(err error) bool {
			var al *events.AboveLevelError
			return errors.As(err, &al) && *al == events.AboveLevelError{Level: 1, Type: "group.created", SchemaVersion: 2}
		}},
		{"outcome unknown", events.ErrOutcomeUnknown, func(err error) bool { return errors.Is(err, events.ErrOutcomeUnknown) }},
		{"not leader", consensus.ErrNotLeader, func(err error) bool { return errors.Is(err, consensus.ErrNotLeader) }},
		{"no leader", consensus.ErrNoLeader, func(err error) bool { return errors.Is(err, consensus.ErrNoLeader) }},
		{"shutdown", consensus.ErrShutdown, func(err error) bool { return errors.Is(err, consensus.ErrShutdown) }},
		{"malformed", fmt.Errorf("%w: empty batch", events.ErrMalformed), func(err error) bool { return errors.Is(err, events.ErrMalformed) }},
		{"unknown type", fmt.Errorf("%w: x.y v9", events.ErrUnknownType), func(err error) bool { return errors.Is(err, events.ErrUnknownType) }},
		{"illegal transition", fmt.Errorf("%w: appointment-1 ended", events.ErrIllegalTransition), func(err error) bool { return errors.Is(err, events.ErrIllegalTransition) }},
		{"batch too large", fmt.Errorf("%w: 90000 events", events.ErrBatchTooLarge), func(err error) bool { return errors.Is(err, events.ErrBatchTooLarge) }},
		{"agenda error", agenda.Errorf(agenda.EINVALID, "bad").WithDetails(map[string]any{"field": "x"}), func(err error) bool {
			return agenda.ErrorCode(err) == agenda.EINVALID && agenda.ErrorMessage(err) == "bad" && agenda.ErrorDetails(err)["field"] == "x"
		}},
		{"internal", errors.New("disk on fire"), func(err error) bool {
			return agenda.ErrorCode(err) == agenda.EINTERNAL && strings.Contains(err.Error(), "disk on fire")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(encodeError(tt.err))
			if err != nil {
				t.Fatal(err)
			}
			var w wireError
			if err := json.Unmarshal(data, &w); err != nil {
				t.Fatal(err)
			}
			if got := w.err(); !tt.check(got) {
				t.Errorf("%v came back as %v (%s)", tt.err, got, data)
			}
		})
	}
}

// fakeRaft is a leader or a follower whose Propose answers a fixed result.
type fakeRaft struct {
	id, leader string
	result     error
	committed  events.Committed
	proposed   int
	published  int
	historyErr error
	checked    []consensus.History
	// servers is the Raft configuration Servers returns.
	servers []consensus.Server
	// transfers counts TransferLeadership calls.
	transfers int
	// unproven is what Unproven says.
	unproven bool
}

func (f *fakeRaft) ID() string                     { return f.id }
func (f *fakeRaft) RaftAddr() string               { return f.id + ":7000" }
func (f *fakeRaft) IsLeader() bool                 { return f.leader == f.id }
func (f *fakeRaft) Leader() (string, string)       { return f.leader, f.leader + ":7000" }
func (f *fakeRaft) HasState() bool                 { return true }
func (f *fakeRaft) IsShutdown() bool               { return false }
func (f *fakeRaft) AddVoter(id, a string) error    { return nil }
func (f *fakeRaft) AddNonvoter(id, a string) error { return nil }
func (f *fakeRaft) RemoveServer(id string) error {
	return nil
}
func (f *fakeRaft) Bootstrap([]consensus.Server) error        { return nil }
func (f *fakeRaft) Servers() ([]consensus.Server, error)      { return f.servers, nil }
func (f *fakeRaft) Unreachable() map[string]time.Time         { return nil }
func (f *fakeRaft) WaitApplied(context.Context, uint64) error { return nil }
func (f *fakeRaft) StoreApplied() uint64                      { return 42 }
func (f *fakeRaft) ReadIndex(context.Context) (uint64, error) { return 42, nil }
func (f *fakeRaft) VoteGated() bool                           { return false }
func (f *fakeRaft) Superseded() *consensus.Superseded         { return nil }
func (f *fakeRaft) Unproven() bool                            { return f.unproven }
func (f *fakeRaft) TransferLeadership() error                 { f.transfers++; return nil }
func (f *fakeRaft) OpenVoteGate(uint64) (bool, error)         { return true, nil }
func (f *fakeRaft) AllowVoting(string) error                  { return nil }
func (f *fakeRaft) History(context.Context) (consensus.History, error) {
	return consensus.History{Position: 3, EventID: "e3"}, nil
}
func (f *fakeRaft) CheckHistory(_ context.Context, h consensus.History) error {
	f.checked = append(f.checked, h)
	return f.historyErr
}
func (f *fakeRaft) PublishCommit() { f.published++ }
func (f *fakeRaft) Propose(context.Context, events.Batch) (events.Committed, error) {
	f.proposed++
	return f.committed, f.result
}

// TestForwardedProposeMapsErrors forwards a batch from a follower to a
// leader over real signed HTTP and checks what the follower's caller sees.
func TestForwardedProposeMapsErrors(t *testing.T) {
	tests := []struct {
		name   string
		result error
		check  func(error) bool
	}{
		{"committed", nil, func(err error) bool { return err == nil }},
		{"version conflict", &events.VersionConflictError{Stream: "s", Expected: 1, Actual: 2, Position: 5}, func(err error) bool {
			var vc *events.VersionConflictError
			return errors.As(err, &vc) && vc.Position == 5
		}},
		{"duplicate", &events.DuplicateEventError{EventID: "e", Position: 3}, func(err error) bool {
			var d *events.DuplicateEventError
			return errors.As(err, &d) && d.Position == 3
		}},
		{"outcome unknown", events.ErrOutcomeUnknown, func(err error) bool { return errors.Is(err, events.ErrOutcomeUnknown) }},
		{"above the leader's level", &events.AboveLevelError{Level: 1, Type: "group.created", SchemaVersion: 2}, func(err error) bool {
			var al *events.AboveLevelError
			return errors.As(err, &al) && al.Level == 1
		}},
		{"leader shutting down mid-commit", consensus.ErrShutdown, func(err error) bool { return errors.Is(err, events.ErrOutcomeUnknown) }},
		{"not leader any more: unavailable after the wait", consensus.ErrNotLeader, func(err error) bool {
			return agenda.ErrorCode(err) == agenda.EUNAVAILABLE
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			leaderRaft := &fakeRaft{id: "l", leader: "l", result: tt.result, committed: events.Committed{FirstPosition: 7, LastPosition: 8, Index: 12}}
			leader := NewAgent(Config{Self: Member{ID: "l"}, Secret: testSecret, Logger: logger}, leaderRaft)
			srv := httptest.NewServer(leader.Handler())
			defer srv.Close()
			addr := strings.TrimPrefix(srv.URL, "http://")

			follower := NewAgent(Config{Self: Member{ID: "f"}, Secret: testSecret, Logger: logger}, &fakeRaft{id: "f", leader: "l"})
			follower.members.Heard(Member{ID: "l", HTTPAddr: addr, Incarnation: 1}, SourceSeed, time.Now())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := follower.Propose(ctx, events.Batch{})
			if !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
			if err == nil && c != (events.Committed{FirstPosition: 7, LastPosition: 8, Index: 12}) {
				t.Errorf("committed = %+v", c)
			}
			// A committed forwarded batch is published to the followers at
			// once (the sender waits to see it); a refused one is not.
			if want := map[bool]int{true: 1, false: 0}[tt.result == nil]; leaderRaft.published != want {
				t.Errorf("commit published %d times, want %d", leaderRaft.published, want)
			}
			if idx, err := follower.ReadIndex(ctx); tt.result == nil && (err != nil || idx != 42) {
				t.Errorf("read index = %d, %v; want 42", idx, err)
			}
		})
	}
}

// A follower forwards what the leader would take itself: a batch of more
// than the 8 MiB it used to forward (a review found that an organiser
// leaving a large group could do so on the leader and not on a follower),
// and refuses, without sending it, one over events.MaxBatchBytes, as the
// leader's own Propose does.
func TestForwardedBatchesUpToTheEntryLimit(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	leaderRaft := &fakeRaft{id: "l", leader: "l", committed: events.Committed{FirstPosition: 1, LastPosition: 2, Index: 3}}
	leader := NewAgent(Config{Self: Member{ID: "l"}, Secret: testSecret, Logger: logger}, leaderRaft)
	srv := httptest.NewServer(leader.Handler())
	defer srv.Close()
	follower := NewAgent(Config{Self: Member{ID: "f"}, Secret: testSecret, Logger: logger}, &fakeRaft{id: "f", leader: "l"})
	follower.members.Heard(Member{ID: "l", HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), Incarnation: 1}, SourceSeed, time.Now())

	batchOf := func(bytes int) events.Batch {
		var b events.Batch
		for i := 0; ; i++ {
			e, err := events.New(fmt.Sprintf("e%d", i), "s", int64(i+1), events.AppointmentDeleted{AppointmentID: strings.Repeat("a", 1000)}, events.Meta{OriginNode: "f"})
			if err != nil {
				t.Fatal(err)
			}
			b.Events = append(b.Events, e)
			if (i+1)*1100 > bytes {
				return b
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := follower.Propose(ctx, batchOf(10<<20)); err != nil {
		t.Fatalf("forwarding a batch of about 10 MiB: %v", err)
	}
	if leaderRaft.proposed != 1 {
		t.Fatalf("the leader proposed %d batches, want 1", leaderRaft.proposed)
	}
	if _, err := follower.Propose(ctx, batchOf(events.MaxBatchBytes+1<<20)); !errors.Is(err, events.ErrBatchTooLarge) {
		t.Fatalf("forwarding a batch over MaxBatchBytes: err = %v, want ErrBatchTooLarge", err)
	}
	if leaderRaft.proposed != 1 {
		t.Fatalf("the leader proposed %d batches, want still 1", leaderRaft.proposed)
	}
}

// TestForwardedAnswerLostIsOutcomeUnknown: the leader took the batch and
// began to answer, and the answer was cut short or could not be read. The
// leader may have committed the batch, so the caller must hear "outcome
// unknown" (retried as the same batch, or told to read before retrying),
// never a plain failure it would take for a refusal and repeat as a new
// write (found by a review: a 500 or a 503 without "outcome unknown").
func TestForwardedAnswerLostIsOutcomeUnknown(t *testing.T) {
	for name, answer := range map[string]func(w http.ResponseWriter){
		"cut mid-answer": func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"first_position":7,`))
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		},
		"an answer that does not decode": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"first_position":"seven"}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				answer(w)
			}))
			defer srv.Close()
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			follower := NewAgent(Config{Self: Member{ID: "f"}, Secret: testSecret, Logger: logger}, &fakeRaft{id: "f", leader: "l"})
			follower.members.Heard(Member{ID: "l", HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), Incarnation: 1}, SourceSeed, time.Now())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := follower.Propose(ctx, events.Batch{}); !errors.Is(err, events.ErrOutcomeUnknown) {
				t.Fatalf("err = %v, want outcome unknown", err)
			}
		})
	}
}

// TestForwardToUnreachableLeaderIsUnavailable: nothing listens at the
// leader's address, so nothing was sent, and after the leader wait the
// caller gets unavailable (not "outcome unknown").
func TestForwardToUnreachableLeaderIsUnavailable(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	follower := NewAgent(Config{Self: Member{ID: "f"}, Secret: testSecret, Logger: logger}, &fakeRaft{id: "f", leader: "l"})
	follower.members.Heard(Member{ID: "l", HTTPAddr: "127.0.0.1:1", Incarnation: 1}, SourceSeed, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := follower.Propose(ctx, events.Batch{})
	if agenda.ErrorCode(err) != agenda.EUNAVAILABLE || errors.Is(err, events.ErrOutcomeUnknown) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

// TestJoinChecksHistory: a join carries the joiner's history; the leader
// admits a node whose history is a prefix of the cluster's, and refuses
// one with another cluster's history with a conflict the joiner can tell
// from "not yet", logging the refusal once however often it is asked.
func TestJoinChecksHistory(t *testing.T) {
	for _, tt := range []struct {
		name    string
		check   error
		wantErr string
	}{
		{"same history", nil, ""},
		{"another cluster's history", fmt.Errorf("%w: its event 3 is e3", consensus.ErrForeignHistory), agenda.ECONFLICT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			leaderRaft := &fakeRaft{id: "l", leader: "l", historyErr: tt.check}
			leader := NewAgent(Config{Self: Member{ID: "l"}, Secret: testSecret, Logger: logger}, leaderRaft)
			srv := httptest.NewServer(leader.Handler())
			defer srv.Close()
			addr := strings.TrimPrefix(srv.URL, "http://")

			joiner := NewAgent(Config{Self: Member{ID: "j", RaftAddr: "j:7000"}, Secret: testSecret, Logger: logger}, &fakeRaft{id: "j", leader: "l"})
			joiner.members.Heard(Member{ID: "l", HTTPAddr: addr, Incarnation: 1}, SourceSeed, time.Now())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h := consensus.History{Position: 3, EventID: "e3"}
			m := joiner.members.Self()
			m.History = &h
			for range 3 {
				err := joiner.Join(ctx, m)
				if got := agenda.ErrorCode(err); (err == nil) != (tt.wantErr == "") || (err != nil && got != tt.wantErr) {
					t.Fatalf("join: %v (code %q), want code %q", err, got, tt.wantErr)
				}
			}
			if len(leaderRaft.checked) != 3 || leaderRaft.checked[0] != h {
				t.Fatalf("leader checked %+v, want the joiner's history three times", leaderRaft.checked)
			}
			if n := strings.Count(logs.String(), "action=cluster.join_refused"); (tt.wantErr == "" && n != 0) || (tt.wantErr != "" && n != 1) {
				t.Fatalf("%d refusal lines for 3 refused joins: %s", n, logs.String())
			}
			if got, ok := leader.members.Get("j"); ok && got.History != nil {
				t.Errorf("the member table keeps the joiner's history: %+v", got)
			}
		})
	}
}

// Gossip and joins tolerate fields this build does not know (a newer node
// in a rolling upgrade); a proposal does not, since a field it would drop
// could change what the batch means.
func TestUnknownFieldsOnTheWire(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	leader := NewAgent(Config{Self: Member{ID: "l"}, Secret: testSecret, Logger: logger}, &fakeRaft{id: "l", leader: "l"})
	h := leader.Handler()
	sender := NewSigner(testSecret, "n")
	for _, tt := range []struct {
		path, body string
		status     int
	}{
		{"/internal/cluster/gossip", `{"self":{"id":"n","raft_addr":"n:7000","incarnation":1,"from_the_future":true},"members":[]}`, http.StatusOK},
		{"/internal/cluster/join", `{"id":"n","raft_addr":"n:7000","incarnation":1,"from_the_future":true}`, http.StatusOK},
		{"/internal/propose", `{"events":[],"from_the_future":true}`, http.StatusConflict},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedRequest(t, sender, "l", "POST", tt.path, []byte(tt.body)))
		if rec.Code != tt.status {
			t.Errorf("%s with an unknown field: status %d, want %d; body %s", tt.path, rec.Code, tt.status, rec.Body)
		}
		if tt.status != http.StatusOK && !strings.Contains(rec.Body.String(), "from_the_future") {
			t.Errorf("%s: refusal does not name the field: %s", tt.path, rec.Body)
		}
	}
}
