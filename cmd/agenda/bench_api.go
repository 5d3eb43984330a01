package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// benchPassword is the password of every user the load tool registers.
const benchPassword = "agenda-bench-password"

// benchAPI is the load tool's HTTP client: keep-alive connections to every
// node, requests spread over the nodes in turn.
type benchAPI struct {
	nodes []string
	http  *http.Client
	next  atomic.Uint64
	warn  io.Writer // where setup warnings go
	// seen is the highest position a setup write answered with; every
	// setup request asks its node to have reached it, so a step on one
	// node sees the steps taken on others (an invitation sent through one
	// node is accepted through another).
	seen atomic.Int64
	// metricsToken, if set, is sent to /metrics as a bearer token
	// (the nodes' METRICS_TOKEN).
	metricsToken string
}

func newBenchAPI(nodes []string, concurrency int, timeout time.Duration, warn io.Writer) *benchAPI {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Every client keeps its connection to every node between requests.
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = concurrency + 16
	return &benchAPI{nodes: nodes, http: &http.Client{Timeout: timeout, Transport: t}, warn: warn}
}

func (a *benchAPI) close() { a.http.CloseIdleConnections() }

// node returns the next node in turn.
func (a *benchAPI) node() string {
	return a.nodes[(a.next.Add(1)-1)%uint64(len(a.nodes))]
}

// benchUser is a user the tool registered and logged in.
type benchUser struct {
	name  string
	id    string
	token string
}

// benchAnswer is a successful answer: its status, the write's position (0
// if none) and, when asked for, the body.
type benchAnswer struct {
	node     string // that answered
	status   int
	position int64
	body     []byte
}

// call sends one request to the next node. in, when non-nil, is sent as
// JSON; the body is kept only if keep is set, else drained so that the
// connection is reused. An error status comes back as a *benchFailure.
func (a *benchAPI) call(ctx context.Context, u *benchUser, method, path string, in any, keep bool) (benchAnswer, error) {
	return a.callAfter(ctx, 0, u, method, path, in, keep)
}

// callAfter is call for a node that has reached position minPos first (0:
// any state).
func (a *benchAPI) callAfter(ctx context.Context, minPos int64, u *benchUser, method, path string, in any, keep bool) (benchAnswer, error) {
	node := a.node()
	ans := benchAnswer{node: node}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return ans, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, node+path, body)
	if err != nil {
		return ans, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u != nil {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	if minPos > 0 {
		req.Header.Set("X-Agenda-Min-Position", strconv.FormatInt(minPos, 10))
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return ans, err
	}
	defer resp.Body.Close()
	ans.status = resp.StatusCode
	if resp.StatusCode >= 400 {
		f := &benchFailure{status: resp.StatusCode}
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		io.Copy(io.Discard, resp.Body)
		if json.Unmarshal(b, &e) == nil {
			f.code = e.Error.Code
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			return ans, &benchRetry{benchFailure: f, after: time.Duration(s) * time.Second}
		}
		return ans, f
	}
	if p := resp.Header.Get("X-Agenda-Position"); p != "" {
		ans.position, _ = strconv.ParseInt(p, 10, 64)
	}
	if keep {
		ans.body, err = io.ReadAll(resp.Body)
		return ans, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return ans, err
}

// benchRetry is an error answer that said when to try again (429, 503).
type benchRetry struct {
	*benchFailure
	after time.Duration
}

func (r *benchRetry) Unwrap() error { return r.benchFailure }

// prepare sends a setup request on state that includes every earlier
// setup write, waiting out rate limits (429), a cluster without a leader
// (503) and concurrent writes to one user's agenda (409 conflict, which
// commits nothing) for up to a minute, since setup is not measured and must
// not fail for them.
func (a *benchAPI) prepare(ctx context.Context, u *benchUser, method, path string, in, out any) (benchAnswer, error) {
	return a.prepareRetrying(ctx, true, u, method, path, in, out)
}

// prepareRetrying is prepare, retrying 409 conflict only if conflicts is
// set.
func (a *benchAPI) prepareRetrying(ctx context.Context, conflicts bool, u *benchUser, method, path string, in, out any) (benchAnswer, error) {
	give := time.Now().Add(time.Minute)
	for {
		ans, err := a.callAfter(ctx, a.seen.Load(), u, method, path, in, out != nil)
		var f *benchFailure
		if err == nil {
			benchRaise(&a.seen, ans.position)
			if out != nil {
				if err := json.Unmarshal(ans.body, out); err != nil {
					return ans, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
				}
			}
			return ans, nil
		}
		retry := errors.As(err, &f) && (f.status == http.StatusTooManyRequests || f.status == http.StatusServiceUnavailable ||
			conflicts && f.status == http.StatusConflict && f.code == "conflict")
		if !retry || time.Now().After(give) {
			return ans, fmt.Errorf("%s %s on %s: %w", method, path, ans.node, err)
		}
		wait := 200 * time.Millisecond
		var r *benchRetry
		switch {
		case f.status == http.StatusConflict:
			// Another setup write to the same agenda won the race; the
			// next try will most likely go through.
			wait = time.Duration(1+rand.IntN(10)) * time.Millisecond
		case errors.As(err, &r):
			wait = min(max(r.after, wait), 10*time.Second)
		}
		select {
		case <-ctx.Done():
			return ans, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// register registers name and logs it in. Both hash a password (bcrypt),
// so callers register many users at once.
func (a *benchAPI) register(ctx context.Context, name string) (*benchUser, error) {
	_, err := a.prepareRetrying(ctx, false, nil, "POST", "/api/auth/register", map[string]string{"username": name, "password": benchPassword}, nil)
	var f *benchFailure
	if err != nil && !(errors.As(err, &f) && f.status == http.StatusConflict) {
		return nil, err
	}
	// A 409 says the name is taken: by an earlier try of this call whose
	// answer was lost (a 503 after the write committed), as names are new
	// in every run. The login below tells.
	var out struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	for try := 1; ; try++ {
		ans, err := a.prepare(ctx, nil, "POST", "/api/auth/login", map[string]string{"username": name, "password": benchPassword}, &out)
		if err == nil {
			break
		}
		if !errors.As(err, &f) || f.status != http.StatusUnauthorized || try == 10 {
			return nil, err
		}
		// The registration was acknowledged, so the node should know the
		// user: say so, since it is the node's fault, and try again.
		fmt.Fprintf(a.warn, "bench: warning: login of %s, registered a moment ago, refused by %s (try %d); retrying\n", name, ans.node, try)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return &benchUser{name: name, id: out.User.ID, token: out.Token}, nil
}

// registerAll registers every name, a few at a time (the nodes hash one
// password per core or so anyway).
func (a *benchAPI) registerAll(ctx context.Context, names []string) ([]*benchUser, error) {
	users := make([]*benchUser, len(names))
	err := benchParallel(ctx, len(names), 16, func(ctx context.Context, i int) error {
		u, err := a.register(ctx, names[i])
		users[i] = u
		return err
	})
	return users, err
}

// benchParallel runs f(0..n-1) on up to width goroutines and returns the
// first error (after which the others stop early).
func benchParallel(ctx context.Context, n, width int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	errs := make(chan error, width)
	for range min(width, max(n, 1)) {
		go func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					break
				}
			}
			errs <- nil
		}()
	}
	for range min(width, max(n, 1)) {
		<-errs
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
