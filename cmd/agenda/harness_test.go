package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testJWTSecret signs the tokens of every test node.
const testJWTSecret = "test-secret-0123456789abcdef0123456789"

// freeAddr returns a loopback address with a port free right now, for a
// node that must keep its Raft address across a restart.
func freeAddr(t testing.TB) string { return freeAddrOn(t, "127.0.0.1") }

// freeAddrOn returns host:port with a port free on host right now.
func freeAddrOn(t testing.TB, host string) string {
	t.Helper()
	ln := listenLow(t, host)
	defer ln.Close()
	return ln.Addr().String()
}

// listenLow listens on host at a random port below the kernel's ephemeral
// range (32768 and up by default). A test node's port is chosen, freed, and
// only then bound by the node, and bound again after every restart; a port
// from the ephemeral range could meanwhile become the source port of one of
// the many loopback connections the tests open, and the node would fail to
// start with "address already in use". Below the range only another test
// choosing the same port can take it, and no port is handed out twice in
// this process: a cluster's nodes choose their ports one after the other,
// before any binds its own, and two of them once drew the same one.
func listenLow(t testing.TB, host string) net.Listener {
	t.Helper()
	var err error
	for range 200 {
		port := 10000 + rand.IntN(22000)
		if !handOut(port) {
			continue
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
			return ln
		}
	}
	t.Fatalf("no free port on %s below the ephemeral range: %v", host, err)
	return nil
}

// handedOut holds the ports listenLow has handed out in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// handOut records port as handed out, and reports false if it already was.
func handOut(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports[port] {
		return false
	}
	handedOut.ports[port] = true
	return true
}

// testConfig is a node configuration for a test: data in dir, loopback ports,
// cheap password hashing.
func testConfig(t testing.TB, dir string) Config {
	t.Helper()
	return Config{
		NodeID:        "test-node",
		HTTPAddr:      "127.0.0.1:0",
		RaftAddr:      freeAddr(t),
		DataDir:       dir,
		JWTSecret:     testJWTSecret,
		ClusterSecret: "test-cluster-secret-0123456789abcdef",
		LogLevel:      "warn",
		TokenTTL:      time.Hour,
		BcryptCost:    4,
	}
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("AGENDA_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// startNode starts a node with cfg and waits until it is ready. The node is
// closed when the test ends (closing it earlier is fine).
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n := &Node{Config: cfg, Logger: testLogger()}
	if err := n.Open(context.Background()); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	waitReady(t, "http://"+n.HTTPAddr())
	return n
}

// mustStartNode starts a fresh single node in a temp dir.
func mustStartNode(t testing.TB) *Node {
	t.Helper()
	return startNode(t, testConfig(t, t.TempDir()))
}

// waitReady polls /readyz until it answers 200.
func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not ready after 15s", base)
}

// client talks to a node's API as one user.
type client struct {
	t      testing.TB
	base   string
	token  string
	userID string
	http   *http.Client
}

func newClient(t testing.TB, n *Node) *client {
	return &client{t: t, base: "http://" + n.HTTPAddr(), http: &http.Client{Timeout: 30 * time.Second}}
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r *response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorCode returns the error code of an error response ("" if none).
func (r *response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// raw sends a request with a raw body and headers.
func (c *client) raw(method, path string, body []byte, header map[string]string) *response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// do sends v (if non-nil) as a JSON body.
func (c *client) do(method, path string, v any) *response {
	c.t.Helper()
	var body []byte
	hdr := map[string]string{}
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
		hdr["Content-Type"] = "application/json"
	}
	return c.raw(method, path, body, hdr)
}

// expect fails the test unless the response has the given status.
func (r *response) expect(t testing.TB, status int) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	return r
}

// registerUser registers username (password "password-<username>") and
// returns a client logged in as them.
func registerUser(t testing.TB, n *Node, username string) *client {
	t.Helper()
	c := newClient(t, n)
	c.do("POST", "/api/auth/register", map[string]any{"username": username, "password": "password-" + username}).
		expect(t, http.StatusCreated)
	c.login(username, "password-"+username)
	return c
}

// login logs c in.
func (c *client) login(username, password string) {
	c.t.Helper()
	var out struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	c.do("POST", "/api/auth/login", map[string]any{"username": username, "password": password}).
		expect(c.t, http.StatusOK).JSON(c.t, &out)
	c.token, c.userID = out.Token, out.User.ID
}

// appointmentBody is a create request for [start, start+d).
func appointmentBody(title string, start time.Time, d time.Duration) map[string]any {
	return map[string]any{"title": title, "start": start.UTC().Format(time.RFC3339), "end": start.Add(d).UTC().Format(time.RFC3339)}
}

func agendaPath(from, to time.Time) string {
	return fmt.Sprintf("/api/agenda?from=%s&to=%s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
}

func decodeInto(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestListenLowNeverRepeatsAPort: the ports test nodes are given are freed
// before the nodes bind them, so two handed out in one process must differ
// (3,000 draws from 22,000 ports would repeat about 200 times by chance).
func TestListenLowNeverRepeatsAPort(t *testing.T) {
	seen := map[string]bool{}
	for range 3000 {
		addr := freeAddr(t)
		if seen[addr] {
			t.Fatalf("port %s handed out twice", addr)
		}
		seen[addr] = true
	}
}
