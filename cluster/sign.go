package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Headers of a signed node-to-node request.
const (
	HeaderNode      = "X-Agenda-Node"
	HeaderTimestamp = "X-Agenda-Timestamp"
	HeaderNonce     = "X-Agenda-Nonce"
	HeaderSignature = "X-Agenda-Signature"
)

// MaxSkew is how far a signed request's timestamp may be from the
// receiver's clock.
const MaxSkew = 30 * time.Second

// maxBody bounds the body of an internal request.
const maxBody = 8 << 20

// maxNonces bounds each generation of the replay cache: beyond it, signed
// requests are refused until the generation rotates (only a holder of the
// secret can fill it).
const maxNonces = 1 << 17

// Signer signs and verifies node-to-node HTTP requests with HMAC-SHA256 over
// method, path, query, sender, timestamp, nonce and the body's hash, keyed
// by the cluster secret.
type Signer struct {
	key    []byte
	nodeID string
	// Now is the clock (tests replace it).
	Now func() time.Time

	mu       sync.Mutex
	cur      map[string]struct{}
	prev     map[string]struct{}
	rotated  time.Time
	rotation time.Duration
}

// NewSigner returns a signer for nodeID keyed by secret. The key is derived
// with a label, so the same secret used by the Raft handshake never yields
// the same MACs.
func NewSigner(secret []byte, nodeID string) *Signer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("agenda internal http v1"))
	return &Signer{key: m.Sum(nil), nodeID: nodeID, Now: time.Now, rotation: 2 * MaxSkew}
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Signer) mac(method, uri, node, ts, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%s\n%x", method, uri, node, ts, nonce, sum)
	return m.Sum(nil)
}

// Sign sets the signature headers of req, whose body is body.
func (s *Signer) Sign(req *http.Request, body []byte) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	n := hex.EncodeToString(nonce)
	req.Header.Set(HeaderNode, s.nodeID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, n)
	req.Header.Set(HeaderSignature, hex.EncodeToString(s.mac(req.Method, req.URL.RequestURI(), s.nodeID, ts, n, body)))
}

// Refusal reasons, also the audit log's detail.
var (
	errUnsigned     = errors.New("unsigned request")
	errBadSignature = errors.New("bad signature")
	errStale        = errors.New("timestamp outside the allowed skew")
	errReplay       = errors.New("nonce already used")
	errNonceFlood   = errors.New("replay cache full")
	errTooLarge     = errors.New("body too large")
)

// Verify checks the signature of r, whose body is body, and remembers its
// nonce. It returns the sender's node ID.
func (s *Signer) Verify(r *http.Request, body []byte) (string, error) {
	node, ts, nonce, sig := r.Header.Get(HeaderNode), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce), r.Header.Get(HeaderSignature)
	if sig == "" || ts == "" || nonce == "" {
		return node, errUnsigned
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(r.Method, r.URL.RequestURI(), node, ts, nonce, body)) {
		return node, errBadSignature
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return node, errBadSignature
	}
	if d := s.now().Sub(time.UnixMilli(ms)); d > MaxSkew || d < -MaxSkew {
		return node, errStale
	}
	return node, s.remember(nonce)
}

// remember records nonce in a two-generation cache. A generation lives
// 2×MaxSkew, so a nonce is remembered for at least as long as its timestamp
// stays acceptable.
func (s *Signer) remember(nonce string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cur == nil || now.Sub(s.rotated) >= s.rotation {
		s.prev, s.cur, s.rotated = s.cur, map[string]struct{}{}, now
	}
	if _, ok := s.cur[nonce]; ok {
		return errReplay
	}
	if _, ok := s.prev[nonce]; ok {
		return errReplay
	}
	if len(s.cur) >= maxNonces {
		return errNonceFlood
	}
	s.cur[nonce] = struct{}{}
	return nil
}

// Require wraps an internal handler: it reads the body, refuses (401, an
// audit line through refusals) anything not signed by a holder of the
// cluster secret, and hands the body on in place.
func (s *Signer) Require(refusals *Refusals, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err == nil && len(body) > maxBody {
			err = errTooLarge
		}
		var node string
		if err == nil {
			node, err = s.Verify(r, body)
		}
		if err != nil {
			refusals.Log("internal request refused", r.RemoteAddr,
				"method", r.Method, "path", r.URL.Path, "claimed_node", node, "reason", err.Error())
			writeError(w, http.StatusUnauthorized, "unauthorized", "node-to-node request refused: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
