package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/agendahq/agenda/internal/reqid"
)

// newClient returns the pooled client for node-to-node requests.
func newClient(tlsConfig *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     tlsConfig,
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// Members returns the member table.
// scheme is the node-to-node HTTP scheme: https when TLS is configured.
func (a *Agent) scheme() string {
	if a.cfg.TLS != nil {
		return "https"
	}
	return "http"
}

// call POSTs v, signed for node dest, to addr+path and decodes a 200
// answer into out. A wire error in the answer is returned as the error it
// stands for.
func (a *Agent) call(ctx context.Context, dest, addr, path string, v, out any) error {
	_, err := a.callSent(ctx, dest, addr, path, v, out)
	return err
}

// callSent is call that also reports whether the request may have reached
// the other side: false only when it certainly did not.
func (a *Agent) callSent(ctx context.Context, dest, addr, path string, v, out any) (sent bool, err error) {
	body, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	return a.callSentBody(ctx, dest, addr, path, body, out)
}

// callSentBody is callSent with the body already encoded.
func (a *Agent) callSentBody(ctx context.Context, dest, addr, path string, body []byte, out any) (sent bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.scheme()+"://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	if id := reqid.From(ctx); id != "" {
		// The leader logs a forwarded write under the client's request ID.
		req.Header.Set(reqid.Header, id)
	}
	a.signer.Sign(req, dest, body)
	var wrote bool
	var wmu sync.Mutex
	req = req.WithContext(withWroteHook(req.Context(), func() { wmu.Lock(); wrote = true; wmu.Unlock() }))
	resp, err := a.client.Do(req)
	if err != nil {
		wmu.Lock()
		defer wmu.Unlock()
		return wrote, fmt.Errorf("%s %s: %w", addr, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return true, fmt.Errorf("%s %s: read answer: %w", addr, path, &lostAnswer{err})
	}
	if resp.StatusCode == http.StatusOK {
		if out == nil {
			return true, nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return true, fmt.Errorf("%s %s: decode answer: %w", addr, path, &lostAnswer{err})
		}
		return true, nil
	}
	var we struct {
		Wire *wireError `json:"wire"`
	}
	if json.Unmarshal(data, &we) == nil && we.Wire != nil {
		return true, we.Wire.err()
	}
	return true, &statusError{status: resp.StatusCode, body: string(bytes.TrimSpace(data))}
}

// lostAnswer is a failure after the other side took the request and before
// its answer was read whole (a connection cut mid-answer, a timeout while
// reading it, an answer that does not decode): what the other side did
// stands, unknown to the caller, who must not take it for a refusal.
type lostAnswer struct{ err error }

func (e *lostAnswer) Error() string { return e.err.Error() }
func (e *lostAnswer) Unwrap() error { return e.err }

// statusError is an answer that carries no wire error: the other side
// refused the request before handling it (bad signature, unknown path).
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return "status " + strconv.Itoa(e.status) + ": " + e.body
}
