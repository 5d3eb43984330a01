package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agendahq/agenda"
)

// barrierLog is a read barrier that takes a while and answers err, and
// counts the logins that got past it (through countingCommands).
type barrierLog struct {
	mu       sync.Mutex
	err      error
	barriers int
}

func (b *barrierLog) ReadBarrier(context.Context) error {
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.barriers++
	return b.err
}

type countingCommands struct {
	fakeCommands
	mu      sync.Mutex
	checked int
}

// Authenticate counts the check; the lock covers the fake's own count too
// (concurrent logins raced on it under -race).
func (c *countingCommands) Authenticate(ctx context.Context, u, p string) (agenda.User, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked++
	return c.fakeCommands.Authenticate(ctx, u, p)
}

func postLogins(t *testing.T, s *Server, n int) map[int]int {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for i := range n {
		wg.Go(func() {
			resp, err := http.Post(srv.URL+"/api/auth/login", "application/json", strings.NewReader(fmt.Sprintf(`{"username":"u%d","password":"x"}`, i)))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			got[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return got
}

// A login decides on state at least as fresh as the cluster's commit index:
// it takes a read barrier first, and checks the password only once it has
// one. Without one (no quorum) every login is 503 unavailable, checking no
// password: the barrier is waited for outside the hashing slots, which a
// review saw held through it, turning three logins of four into 429s.
func TestLoginWaitsForAReadBarrier(t *testing.T) {
	t.Run("no quorum", func(t *testing.T) {
		cmds := &countingCommands{fakeCommands: fakeCommands{userID: "u1"}}
		s, _ := newTestServer(t, cmds, &fakeQueries{})
		s.Reads = &barrierLog{err: agenda.Errorf(agenda.EUNAVAILABLE, "no leader")}
		s.Limits = DefaultLimits(2)
		s.Limits.HashWait = 50 * time.Millisecond
		if got := postLogins(t, s, 4); got[http.StatusServiceUnavailable] != 4 {
			t.Fatalf("statuses %v, want 4 × 503", got)
		}
		if cmds.checked != 0 {
			t.Errorf("%d passwords checked without a barrier, want 0", cmds.checked)
		}
	})
	t.Run("with a quorum", func(t *testing.T) {
		cmds := &countingCommands{fakeCommands: fakeCommands{userID: "u1"}}
		s, _ := newTestServer(t, cmds, &fakeQueries{})
		reads := &barrierLog{}
		s.Reads = reads
		if got := postLogins(t, s, 2); got[http.StatusOK] != 2 {
			t.Fatalf("statuses %v, want 2 × 200", got)
		}
		if reads.barriers != 2 || cmds.checked != 2 {
			t.Errorf("%d barriers, %d checks; want 2 and 2", reads.barriers, cmds.checked)
		}
	})
}
