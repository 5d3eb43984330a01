package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("cluster-secret-0123456789abcdef-0123456789")

// signedRequest is a request signed by s for node dest.
func signedRequest(t *testing.T, s *Signer, dest, method, target string, body []byte) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	s.Sign(req, dest, body)
	return req
}

// TestRequireRefuses checks every refusal case of signed internal requests,
// and that a good request passes with its body intact.
func TestRequireRefuses(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"node-2"}`)
	tests := []struct {
		name   string
		req    func(t *testing.T, sender *Signer) *http.Request
		status int
		reason string
	}{
		{"good", func(t *testing.T, s *Signer) *http.Request {
			return signedRequest(t, s, "node-1", "POST", "/internal/x", body)
		}, http.StatusOK, ""},
		{"unsigned", func(t *testing.T, s *Signer) *http.Request {
			return httptest.NewRequest("POST", "/internal/x", bytes.NewReader(body))
		}, http.StatusUnauthorized, "unsigned"},
		{"wrong secret", func(t *testing.T, s *Signer) *http.Request {
			other := NewSigner([]byte("another-secret-0123456789abcdef-0123456789"), "node-9")
			other.Now = s.Now
			return signedRequest(t, other, "node-1", "POST", "/internal/x", body)
		}, http.StatusUnauthorized, "bad signature"},
		{"body changed", func(t *testing.T, s *Signer) *http.Request {
			req := signedRequest(t, s, "node-1", "POST", "/internal/x", body)
			req.Body = io.NopCloser(strings.NewReader(`{"id":"node-3"}`))
			return req
		}, http.StatusUnauthorized, "does not match"},
		{"declared hash changed with the body", func(t *testing.T, s *Signer) *http.Request {
			req := signedRequest(t, s, "node-1", "POST", "/internal/x", body)
			other := []byte(`{"id":"node-3"}`)
			sum := sha256.Sum256(other)
			req.Body = io.NopCloser(bytes.NewReader(other))
			req.Header.Set(HeaderBodyHash, hex.EncodeToString(sum[:]))
			return req
		}, http.StatusUnauthorized, "bad signature"},
		{"signed for another node", func(t *testing.T, s *Signer) *http.Request {
			return signedRequest(t, s, "node-3", "POST", "/internal/x", body)
		}, http.StatusUnauthorized, "another node"},
		{"destination changed", func(t *testing.T, s *Signer) *http.Request {
			req := signedRequest(t, s, "node-3", "POST", "/internal/x", body)
			req.Header.Set(HeaderDest, "node-1")
			return req
		}, http.StatusUnauthorized, "bad signature"},
		{"any node, on a path that needs one", func(t *testing.T, s *Signer) *http.Request {
			return signedRequest(t, s, AnyNode, "POST", "/internal/x", body)
		}, http.StatusUnauthorized, "another node"},
		{"any node, on gossip", func(t *testing.T, s *Signer) *http.Request {
			return signedRequest(t, s, AnyNode, "POST", "/internal/gossip", body)
		}, http.StatusOK, ""},
		{"no destination", func(t *testing.T, s *Signer) *http.Request {
			req := signedRequest(t, s, "node-1", "POST", "/internal/x", body)
			req.Header.Del(HeaderDest)
			return req
		}, http.StatusUnauthorized, "unsigned"},
		{"path changed", func(t *testing.T, s *Signer) *http.Request {
			req := signedRequest(t, s, "node-1", "POST", "/internal/x", body)
			signed := req.Header.Clone()
			req = httptest.NewRequest("POST", "/internal/y", bytes.NewReader(body))
			req.Header = signed
			return req
		}, http.StatusUnauthorized, "bad signature"},
		{"sender changed", func(t *testing.T, s *Signer) *http.Request {
			req := signedRequest(t, s, "node-1", "POST", "/internal/x", body)
			req.Header.Set(HeaderNode, "node-evil")
			return req
		}, http.StatusUnauthorized, "bad signature"},
		{"garbage signature", func(t *testing.T, s *Signer) *http.Request {
			req := signedRequest(t, s, "node-1", "POST", "/internal/x", body)
			req.Header.Set(HeaderSignature, "zz")
			return req
		}, http.StatusUnauthorized, "bad signature"},
		{"too old", func(t *testing.T, s *Signer) *http.Request {
			old := NewSigner(testSecret, "node-2")
			old.Now = func() time.Time { return now.Add(-MaxSkew - time.Second) }
			return signedRequest(t, old, "node-1", "POST", "/internal/x", body)
		}, http.StatusUnauthorized, "skew"},
		{"from the future", func(t *testing.T, s *Signer) *http.Request {
			fut := NewSigner(testSecret, "node-2")
			fut.Now = func() time.Time { return now.Add(MaxSkew + time.Second) }
			return signedRequest(t, fut, "node-1", "POST", "/internal/x", body)
		}, http.StatusUnauthorized, "skew"},
		{"bad timestamp", func(t *testing.T, s *Signer) *http.Request {
			req := signedRequest(t, s, "node-1", "POST", "/internal/x", body)
			req.Header.Set(HeaderTimestamp, "yesterday")
			return req
		}, http.StatusUnauthorized, "bad signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			receiver := NewSigner(testSecret, "node-1")
			receiver.Now = func() time.Time { return now }
			sender := NewSigner(testSecret, "node-2")
			sender.Now = func() time.Time { return now.Add(2 * time.Second) }
			var got []byte
			h := receiver.Require(&Refusals{Logger: logger}, map[string]bool{"/internal/gossip": true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.req(t, sender))
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == http.StatusOK {
				if !bytes.Equal(got, body) {
					t.Errorf("handler got body %q, want %q", got, body)
				}
				return
			}
			if !strings.Contains(rec.Body.String(), `"code":"unauthorized"`) || !strings.Contains(rec.Body.String(), tt.reason) {
				t.Errorf("body = %s, want code unauthorized and %q", rec.Body, tt.reason)
			}
			if !strings.Contains(logs.String(), "action=cluster.auth_refused") {
				t.Errorf("no audit entry logged: %s", logs.String())
			}
		})
	}
}

// TestRequireRefusesReplay sends the same signed request twice.
func TestRequireRefusesReplay(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	receiver := NewSigner(testSecret, "node-1")
	receiver.Now = func() time.Time { return clock }
	sender := NewSigner(testSecret, "node-2")
	sender.Now = func() time.Time { return now }
	h := receiver.Require(&Refusals{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	body := []byte(`{}`)
	first := signedRequest(t, sender, "node-1", "POST", "/internal/x", body)
	replay := func() *http.Request {
		r := httptest.NewRequest("POST", "/internal/x", bytes.NewReader(body))
		r.Header = first.Header.Clone()
		return r
	}
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, replay())
		if rec.Code != want {
			t.Fatalf("attempt %d: status %d, want %d", i+1, rec.Code, want)
		}
	}
	// Still refused late in its validity window, after the cache rotated
	// once; then the timestamp itself is too old.
	clock = now.Add(MaxSkew - time.Second)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, replay())
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "nonce") {
		t.Fatalf("late replay: %d %s", rec.Code, rec.Body)
	}
	clock = now.Add(3 * MaxSkew)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, replay())
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "skew") {
		t.Fatalf("replay after the window: %d %s", rec.Code, rec.Body)
	}
}

// TestNonceCacheIsBounded fills a generation and checks that it refuses
// rather than grows, and recovers after rotation.
func TestNonceCacheIsBounded(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	s := NewSigner(testSecret, "node-1")
	s.Now = func() time.Time { return now }
	for i := 0; i < maxNonces; i++ {
		if err := s.remember(strconv.Itoa(i)); err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
	}
	if err := s.remember("one more"); err != errNonceFlood {
		t.Fatalf("full cache: err = %v, want %v", err, errNonceFlood)
	}
	now = now.Add(2 * MaxSkew)
	if err := s.remember("one more"); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if err := s.remember("5"); err != errReplay {
		t.Fatalf("nonce of the previous generation: err = %v, want %v", err, errReplay)
	}
}
