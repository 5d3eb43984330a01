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

	"github.com/agendahq/agenda/events"
)

// Headers of a signed node-to-node request.
const (
	HeaderNode      = "X-Agenda-Node"
	HeaderDest      = "X-Agenda-Dest"
	HeaderTimestamp = "X-Agenda-Timestamp"
	HeaderNonce     = "X-Agenda-Nonce"
	HeaderBodyHash  = "X-Agenda-Body-SHA256"
	HeaderSignature = "X-Agenda-Signature"
)

// AnyNode as destination signs a request any node may take. Only gossip
// accepts it: it goes to seed and DNS addresses whose node ID the sender
// does not know yet, and carries nothing but what gossip spreads to every
// node anyway. Every request that changes state names its destination.
const AnyNode = "*"

// MaxSkew is how far a signed request's timestamp may be from the
// receiver's clock: the window in which a captured request could be
// replayed (to its one destination, which remembers its nonce that long).
const MaxSkew = 10 * time.Second

// maxBody bounds the body of an internal request: the largest is a
// forwarded batch (events.MaxBatchBytes).
const maxBody = events.MaxBatchBytes + 1<<20

// maxInFlight bounds the internal requests a node handles at once (each
// may hold a body of up to maxBody); beyond it they are refused with 503
// before their body is read. Forwarded writes are the many: one per client
// write on a follower, so this is well above the benchmarks' 64 clients.
const maxInFlight = 128

// maxNonces bounds each generation of the replay cache: beyond it, signed
// requests are refused until the generation rotates (only a holder of the
// secret can fill it).
const maxNonces = 1 << 17

// Signer signs and verifies node-to-node HTTP requests with HMAC-SHA256 over
// method, path, query, sender, destination, timestamp, nonce and the body's
// declared hash, keyed by the cluster secret.
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

	inFlight chan struct{} // one slot per internal request past its headers
}

// NewSigner returns a signer for nodeID keyed by secret. The key is derived
// with a label, so the same secret used by the Raft handshake never yields
// the same MACs; the label's version changed with the signed fields, so a
// request of an older build never verifies.
func NewSigner(secret []byte, nodeID string) *Signer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("agenda internal http v2"))
	return &Signer{key: m.Sum(nil), nodeID: nodeID, Now: time.Now, rotation: 2 * MaxSkew,
		inFlight: make(chan struct{}, maxInFlight)}
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// mac covers every signed field. Each is length-prefixed, so no two
// different sets of fields share an encoding.
func (s *Signer) mac(method, uri, node, dest, ts, nonce, bodyHash string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, f := range []string{method, uri, node, dest, ts, nonce, bodyHash} {
		fmt.Fprintf(m, "%d:%s\n", len(f), f)
	}
	return m.Sum(nil)
}

// Sign sets the signature headers of req, whose body is body, for the node
// dest (a node ID, or AnyNode for gossip).
func (s *Signer) Sign(req *http.Request, dest string, body []byte) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	n := hex.EncodeToString(nonce)
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	req.Header.Set(HeaderNode, s.nodeID)
	req.Header.Set(HeaderDest, dest)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, n)
	req.Header.Set(HeaderBodyHash, h)
	req.Header.Set(HeaderSignature, hex.EncodeToString(s.mac(req.Method, req.URL.RequestURI(), s.nodeID, dest, ts, n, h)))
}

// Refusal reasons, also the audit log's detail.
var (
	errUnsigned     = errors.New("unsigned request")
	errBadSignature = errors.New("bad signature")
	errStale        = errors.New("timestamp outside the allowed skew")
	errReplay       = errors.New("nonce already used")
	errNonceFlood   = errors.New("replay cache full")
	errTooLarge     = errors.New("body too large")
	errOtherDest    = errors.New("signed for another node")
	errBodyMismatch = errors.New("body does not match its signed hash")
	errShortBody    = errors.New("body shorter than declared")
)

// signedHeaders are the signature headers of a request, not yet trusted.
type signedHeaders struct {
	node, dest, ts, nonce, bodyHash, sig string
}

func headersOf(r *http.Request) signedHeaders {
	return signedHeaders{
		node: r.Header.Get(HeaderNode), dest: r.Header.Get(HeaderDest), ts: r.Header.Get(HeaderTimestamp),
		nonce: r.Header.Get(HeaderNonce), bodyHash: r.Header.Get(HeaderBodyHash), sig: r.Header.Get(HeaderSignature),
	}
}

// VerifyHeaders checks the signature of r from its headers alone — sender,
// destination (this node; AnyNode only if anyDest), timestamp, nonce (which
// it remembers) and the declared body hash — without reading the body. It
// returns the sender's node ID and the hash the body must have.
func (s *Signer) VerifyHeaders(r *http.Request, anyDest bool) (node string, bodyHash [sha256.Size]byte, err error) {
	h := headersOf(r)
	if h.sig == "" || h.ts == "" || h.nonce == "" || h.bodyHash == "" || h.dest == "" {
		return h.node, bodyHash, errUnsigned
	}
	got, err := hex.DecodeString(h.sig)
	if err != nil || !hmac.Equal(got, s.mac(r.Method, r.URL.RequestURI(), h.node, h.dest, h.ts, h.nonce, h.bodyHash)) {
		return h.node, bodyHash, errBadSignature
	}
	// Signed, so every field below was written by a holder of the secret.
	if n, err := hex.Decode(bodyHash[:], []byte(h.bodyHash)); err != nil || n != sha256.Size || len(h.bodyHash) != 2*sha256.Size {
		return h.node, bodyHash, errBadSignature
	}
	ms, err := strconv.ParseInt(h.ts, 10, 64)
	if err != nil {
		return h.node, bodyHash, errBadSignature
	}
	if d := s.now().Sub(time.UnixMilli(ms)); d > MaxSkew || d < -MaxSkew {
		return h.node, bodyHash, errStale
	}
	if h.dest != s.nodeID && !(anyDest && h.dest == AnyNode) {
		return h.node, bodyHash, errOtherDest
	}
	return h.node, bodyHash, s.remember(h.nonce)
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

// Require wraps the internal handlers. It refuses (401, an audit line
// through refusals) any request whose headers are not signed by a holder of
// the cluster secret for this node — before reading a byte of its body, so
// that refusals cost no memory; paths in anyDest also take requests signed
// for AnyNode. Then it takes one of maxInFlight slots (503 when none is
// free), reads the body up to maxBody (413 beyond) and checks it against
// the signed hash, and hands it on in place.
func (s *Signer) Require(refusals *Refusals, anyDest map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(node string, err error) {
			refusals.Log("internal request refused", r.RemoteAddr,
				"method", r.Method, "path", r.URL.Path, "claimed_node", node, "reason", err.Error())
			writeError(w, http.StatusUnauthorized, "unauthorized", "node-to-node request refused: "+err.Error())
		}
		node, want, err := s.VerifyHeaders(r, anyDest[r.URL.Path])
		if err != nil {
			refuse(node, err)
			return
		}
		if r.ContentLength > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", errTooLarge.Error())
			return
		}
		select {
		case s.inFlight <- struct{}{}:
			defer func() { <-s.inFlight }()
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "unavailable", "too many node-to-node requests in progress")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		switch {
		case err != nil:
			writeError(w, http.StatusBadRequest, "invalid", "reading the body failed")
			return
		case len(body) > maxBody:
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", errTooLarge.Error())
			return
		case r.ContentLength >= 0 && int64(len(body)) != r.ContentLength:
			refuse(node, errShortBody)
			return
		case sha256.Sum256(body) != want:
			refuse(node, errBodyMismatch)
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
