package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingReader serves n zero bytes and counts how many were read.
type countingReader struct {
	left int
	read atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	clear(p[:n])
	r.left -= n
	r.read.Add(int64(n))
	return n, nil
}

func quietRefusals() *Refusals {
	return &Refusals{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// Finding 3 of issue 9: an unsigned (or wrongly signed) request is refused
// from its headers, without a byte of its body read — an 8 MiB POST used to
// be read whole before the signature was looked at.
func TestRequireRefusesBeforeReadingTheBody(t *testing.T) {
	receiver := NewSigner(testSecret, "node-1")
	h := receiver.Require(quietRefusals(), nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("handler reached")
	}))
	other := NewSigner([]byte("another-secret-0123456789abcdef-0123456789"), "node-2")
	for name, sign := range map[string]func(*http.Request){
		"unsigned":     func(*http.Request) {},
		"wrong secret": func(r *http.Request) { other.Sign(r, "node-1", nil) },
		"other node":   func(r *http.Request) { NewSigner(testSecret, "node-2").Sign(r, "node-3", nil) },
	} {
		t.Run(name, func(t *testing.T) {
			body := &countingReader{left: maxBody}
			req := httptest.NewRequest("POST", "/internal/propose", body)
			sign(req)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			if n := body.read.Load(); n != 0 {
				t.Errorf("read %d bytes of the body before refusing, want 0", n)
			}
		})
	}
}

// A signed request that declares a body above the limit is refused without
// reading it; one that sends more than it declared is cut at the limit.
func TestRequireBodyLimit(t *testing.T) {
	receiver := NewSigner(testSecret, "node-1")
	sender := NewSigner(testSecret, "node-2")
	h := receiver.Require(quietRefusals(), nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("handler reached")
	}))
	body := &countingReader{left: maxBody + 1}
	req := httptest.NewRequest("POST", "/internal/propose", body)
	sender.Sign(req, "node-1", nil)
	req.ContentLength = maxBody + 1
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || body.read.Load() != 0 {
		t.Fatalf("declared too large: status %d after reading %d bytes, want 413 after 0", rec.Code, body.read.Load())
	}
	body = &countingReader{left: 3 * maxBody}
	req = httptest.NewRequest("POST", "/internal/propose", body)
	sender.Sign(req, "node-1", nil)
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || body.read.Load() > maxBody+64<<10 {
		t.Fatalf("chunked too large: status %d after reading %d bytes, want 413 after at most ~%d", rec.Code, body.read.Load(), maxBody)
	}
}

// Finding 3: the number of internal requests handled at once is bounded;
// beyond it a signed request is refused at once with 503 and Retry-After,
// and refusing unsigned ones needs no slot.
func TestRequireBoundsRequestsInFlight(t *testing.T) {
	receiver := NewSigner(testSecret, "node-1")
	sender := NewSigner(testSecret, "node-2")
	release := make(chan struct{})
	var entered sync.WaitGroup
	h := receiver.Require(quietRefusals(), nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered.Done()
		<-release
	}))
	var done sync.WaitGroup
	entered.Add(maxInFlight)
	for range maxInFlight {
		done.Add(1)
		go func() {
			defer done.Done()
			h.ServeHTTP(httptest.NewRecorder(), signedRequest(t, sender, "node-1", "POST", "/internal/propose", []byte(`{}`)))
		}()
	}
	entered.Wait()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signedRequest(t, sender, "node-1", "POST", "/internal/propose", []byte(`{}`)))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("request %d: status %d (Retry-After %q), want 503 with Retry-After", maxInFlight+1, rec.Code, rec.Header().Get("Retry-After"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/internal/propose", strings.NewReader("{}")))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("unsigned request while full: status %d, want 401", rec.Code)
	}
	close(release)
	done.Wait()
	entered.Add(1)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, signedRequest(t, sender, "node-1", "POST", "/internal/propose", []byte(`{}`)))
	if rec.Code != http.StatusOK {
		t.Errorf("after the others finished: status %d, want 200", rec.Code)
	}
}

// Finding 8 of issue 9: a request captured on its way to one node is
// refused by every other node, each of which keeps its own nonce cache.
func TestSignedRequestIsBoundToItsDestination(t *testing.T) {
	sender := NewSigner(testSecret, "node-2")
	body := []byte(`{"id":"node-4"}`)
	captured := signedRequest(t, sender, "node-1", "POST", "/internal/cluster/remove", body)
	for _, tt := range []struct {
		receiver string
		status   int
	}{{"node-3", http.StatusUnauthorized}, {"node-4", http.StatusUnauthorized}, {"node-1", http.StatusOK}} {
		h := NewSigner(testSecret, tt.receiver).Require(quietRefusals(), anyDestPaths, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest("POST", "/internal/cluster/remove", bytes.NewReader(body))
		req.Header = captured.Header.Clone()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("replayed to %s: status %d, want %d (%s)", tt.receiver, rec.Code, tt.status, rec.Body)
		}
	}
}

// FuzzRequire feeds arbitrary signature headers and bodies to the internal
// request check. Nothing may panic, every answer is one of the documented
// refusals, and a request that reaches the handler must carry a valid MAC
// for this node over its headers and a body matching the signed hash.
func FuzzRequire(f *testing.F) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	sender := NewSigner(testSecret, "node-2")
	sender.Now = func() time.Time { return now }
	for _, seed := range []struct{ dest, path, body string }{
		{"node-1", "/internal/propose", `{"events":[]}`},
		{AnyNode, "/internal/cluster/gossip", `{}`},
		{"node-3", "/internal/cluster/remove", `{"id":"x"}`},
		{"node-1", "/internal/read-index?x=1", ``},
	} {
		req := httptest.NewRequest("POST", seed.path, nil)
		sender.Sign(req, seed.dest, []byte(seed.body))
		h := headersOf(req)
		f.Add(seed.path, h.node, h.dest, h.ts, h.nonce, h.bodyHash, h.sig, []byte(seed.body))
	}
	f.Add("/internal/propose", "", "", "", "", "", "", []byte("x"))
	f.Fuzz(func(t *testing.T, path, node, dest, ts, nonce, bodyHash, sig string, body []byte) {
		req, err := http.NewRequest("POST", "http://n"+path, bytes.NewReader(body))
		if err != nil || !strings.HasPrefix(path, "/") {
			return
		}
		for k, v := range map[string]string{HeaderNode: node, HeaderDest: dest, HeaderTimestamp: ts, HeaderNonce: nonce, HeaderBodyHash: bodyHash, HeaderSignature: sig} {
			req.Header.Set(k, v)
		}
		receiver := NewSigner(testSecret, "node-1")
		receiver.Now = func() time.Time { return now }
		reached := false
		h := receiver.Require(quietRefusals(), anyDestPaths, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = true
			got, _ := io.ReadAll(r.Body)
			if !bytes.Equal(got, body) {
				t.Errorf("handler got body %q, want %q", got, body)
			}
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusBadRequest, http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if !reached {
			return
		}
		sum := sha256.Sum256(body)
		mac, _ := hex.DecodeString(sig)
		if !hmac.Equal(mac, receiver.mac("POST", req.URL.RequestURI(), node, dest, ts, nonce, bodyHash)) {
			t.Errorf("accepted without a valid MAC")
		}
		if bodyHash != hex.EncodeToString(sum[:]) {
			t.Errorf("accepted a body whose hash %x is not the signed %s", sum, bodyHash)
		}
		if dest != "node-1" && !(dest == AnyNode && anyDestPaths[req.URL.Path]) {
			t.Errorf("accepted a request signed for %q", dest)
		}
	})
}
