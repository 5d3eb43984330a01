package http

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agendahq/agenda"
)

// gatedServer serves, through a Server's answer gate configured with c,
// an answer of ?bytes= bytes (writeBody), and reports each handler's end.
func gatedServer(t *testing.T, c AnswerConfig) (*httptest.Server, <-chan struct{}) {
	t.Helper()
	s := &Server{answers: newAnswerGate(c)}
	ended := make(chan struct{}, 16)
	srv := httptest.NewServer(s.gateAnswers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Never blocks: a handler stuck here would hold its keep-alive
		// connection, and the client's next request on it would wait for
		// good (a test that makes more than 16 requests and reads no ends
		// hung so, 2 runs in 10).
		defer func() {
			select {
			case ended <- struct{}{}:
			default:
			}
		}()
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
		body := bytes.Repeat([]byte("a"), n)
		if r.URL.Query().Has("raw") {
			// As a handler of a library writes (promhttp, a file
			// server): in pieces of its own, straight to w.
			for len(body) > 0 {
				k := min(len(body), 32<<10)
				if _, err := w.Write(body[:k]); err != nil {
					return
				}
				body = body[k:]
			}
			return
		}
		writeBody(w, body)
	})))
	t.Cleanup(srv.Close)
	return srv, ended
}

// stalledClient asks srv for an answer of n bytes and never reads it, with
// a receive buffer as small as the kernel allows.
func stalledClient(t *testing.T, srv *httptest.Server, n int) net.Conn {
	t.Helper()
	return rawRequest(t, srv, n, 4096)
}

// rawRequest asks srv for an answer of n bytes on a connection of its own,
// with a receive buffer of rcvbuf bytes (0: the kernel's).
func rawRequest(t *testing.T, srv *httptest.Server, n, rcvbuf int) net.Conn {
	t.Helper()
	c := dial(t, srv, rcvbuf)
	if _, err := fmt.Fprintf(c, "GET /?bytes=%d HTTP/1.1\r\nHost: test\r\n\r\n", n); err != nil {
		t.Fatal(err)
	}
	return c
}

// dial connects to srv with a receive buffer of rcvbuf bytes (0: the
// kernel's), closed when the test ends.
func dial(t *testing.T, srv *httptest.Server, rcvbuf int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if rcvbuf > 0 {
		if err := c.(*net.TCPConn).SetReadBuffer(rcvbuf); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// A client that asks for a large answer and reads none of it is cut off
// once a piece has waited Stall, and its handler ends: it no longer holds
// the answer, a goroutine and a connection slot for good (a review held 40
// of them for 100 s, 16.7 MB each).
func TestAnswerToAClientThatStopsReadingIsCut(t *testing.T) {
	srv, ended := gatedServer(t, AnswerConfig{Stall: 200 * time.Millisecond})
	stalledClient(t, srv, 32<<20) // more than the sockets' buffers hold
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler still writes to a client that read nothing for 10s, with a stall of 200ms")
	}
}

// The bound is the gate's, not send's: an answer a handler writes to the
// connection by itself (the metrics' handler, the web UI's file server) is
// cut the same way. Before, only send bounded its pieces.
func TestAnswerWrittenByAnyHandlerIsCut(t *testing.T) {
	srv, ended := gatedServer(t, AnswerConfig{Stall: 200 * time.Millisecond})
	fmt.Fprintf(dial(t, srv, 4096), "GET /?bytes=%d&raw HTTP/1.1\r\nHost: test\r\n\r\n", 32<<20)
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("a handler writing by itself still writes to a client that read nothing for 10s, with a stall of 200ms")
	}
}

// The web UI's files and /metrics are answered through the gate: a client
// that pipelines requests for them and reads nothing is cut off, as it is
// from the API. Read after the stall, such a connection ends; one that was
// never cut would answer every request and then wait for the next.
func TestUIAndMetricsAnswersAreBounded(t *testing.T) {
	s := &Server{Metrics: NewMetrics(prometheus.NewRegistry()), Answers: AnswerConfig{Stall: 200 * time.Millisecond}}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, path := range []string{"/ui/app.js", "/metrics"} {
		t.Run(path, func(t *testing.T) {
			c := dial(t, srv, 4096)
			// Far more answers than the sockets' buffers hold: 2,000
			// of app.js is 78 MB; of /metrics, a few MB.
			reqs := strings.Repeat("GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n", 2000)
			go c.Write([]byte(reqs)) // may block while the server is stuck
			time.Sleep(1500 * time.Millisecond)
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			n, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection was never cut: %d bytes read, then the server waited for more requests", n)
			}
			t.Logf("cut after %d bytes (%v)", n, err)
		})
	}
}

// A client that reads slowly but steadily gets its whole answer, though
// that takes longer than Stall: the bound is on each piece (64 KiB), not
// on the answer.
func TestAnswerToASlowReaderIsWhole(t *testing.T) {
	srv, _ := gatedServer(t, AnswerConfig{Stall: time.Second})
	const size = 16 << 20
	c := rawRequest(t, srv, size, 0)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	began := time.Now()
	got := 0
	buf := make([]byte, 128<<10)
	for {
		n, err := resp.Body.Read(buf)
		got += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", got, size, err)
		}
		time.Sleep(20 * time.Millisecond) // at most 128 KiB in 20 ms: about 80 pieces a second
	}
	if got != size {
		t.Fatalf("read %d bytes, want %d", got, size)
	}
	t.Logf("read %d bytes in %v", got, time.Since(began))
}

// Large answers to reads share a budget: while one held by a client that
// does not read takes it all, another is refused with 503 and a JSON error
// (and nothing of it written); small answers and writes' answers go on;
// once the stalled one is cut, large answers are served again.
func TestLargeAnswersShareABudget(t *testing.T) {
	const large = 24 << 20
	srv, _ := gatedServer(t, AnswerConfig{Stall: 30 * time.Second, Budget: large + large/2, BudgetWait: 50 * time.Millisecond})
	held := stalledClient(t, srv, large)
	// Its status line comes once its handler has the share: from then on
	// it holds it. (The loop below used to start at once, and its own large
	// answers could keep the stalled one from its share past BudgetWait:
	// then it was refused instead, and nothing held the budget.)
	if err := held.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(held).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("the stalled client's answer began %q, %v; want 200", line, err)
	}

	get := func(n int) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("%s/?bytes=%d", srv.URL, n))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := get(large)
		if resp.StatusCode == http.StatusServiceUnavailable {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"code":"unavailable"`) {
				t.Fatalf("refusal: Retry-After %q, body %s", resp.Header.Get("Retry-After"), body)
			}
			break
		}
		if resp.StatusCode != http.StatusOK || len(body) != large {
			t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
		}
		if time.Now().After(deadline) {
			t.Fatal("a large answer still served while another held the budget")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, body := get(answerPiece); resp.StatusCode != http.StatusOK || len(body) != answerPiece {
		t.Fatalf("a small answer while the budget is taken: status %d, %d bytes", resp.StatusCode, len(body))
	}
	// A write's answer takes no share: it comes after the commit, and a
	// 503 would say that nothing happened.
	resp, err := http.Post(fmt.Sprintf("%s/?bytes=%d", srv.URL, large), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(body) != large {
		t.Fatalf("a write's large answer while the budget is taken: status %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}

	held.Close() // its write fails: the handler ends and gives its share back
	deadline = time.Now().Add(10 * time.Second)
	for {
		if resp, body := get(large); resp.StatusCode == http.StatusOK && len(body) == large {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("large answers still refused after the stalled client went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// buildingQueries holds every agenda read in its build until release is
// closed (5 s at most, so that a test of a server without turns ends),
// and says when one has begun.
type buildingQueries struct {
	fakeQueries
	began   chan struct{}
	release chan struct{}
}

func (q *buildingQueries) EachAgendaEntry(ctx context.Context, _ string, _, _ time.Time, _ func(*agenda.Entry) error) error {
	q.began <- struct{}{}
	select {
	case <-q.release:
		return nil
	case <-time.After(5 * time.Second):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reads that may build a large answer take turns (Builds at once): one
// that cannot get a turn within BudgetWait is refused with 503 and
// Retry-After, before anything is built; once a build has answered, its
// turn goes to the next read. Before, any number were built at once (a
// review had 96 group agendas of 8 MB take a node to 800 MB).
func TestReadsTakeTurnsToBuild(t *testing.T) {
	q := &buildingQueries{began: make(chan struct{}, 4), release: make(chan struct{})}
	s, _ := newTestServer(t, &fakeCommands{}, q)
	s.Answers = AnswerConfig{Builds: 1, BudgetWait: 100 * time.Millisecond}
	h := s.Handler()
	auth := bearer(t, s)
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/agenda?from=2030-01-01T00:00:00Z&to=2030-01-08T00:00:00Z", nil)
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- get() }()
	<-q.began
	began := time.Now()
	busy := get()
	if busy.Code != http.StatusServiceUnavailable || busy.Header().Get("Retry-After") == "" ||
		!strings.Contains(busy.Body.String(), `"code":"unavailable"`) {
		t.Fatalf("a read while the only turn is taken: %d %v %s, want 503 unavailable with Retry-After", busy.Code, busy.Header(), busy.Body)
	}
	if waited := time.Since(began); waited < 100*time.Millisecond {
		t.Errorf("refused after %v, before waiting BudgetWait (100ms) for a turn", waited)
	}
	close(q.release)
	if w := <-first; w.Code != http.StatusOK {
		t.Fatalf("the read that had the turn: %d %s", w.Code, w.Body)
	}
	if w := get(); w.Code != http.StatusOK {
		t.Fatalf("a read after the turn was given back: %d %s", w.Code, w.Body)
	}
}
