package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// httpc is shared by every request of the tests: short timeouts, as a
// node that is gone must not hold a writer for long.
var httpc = &http.Client{
	Timeout: 5 * time.Second,
	Transport: &http.Transport{
		// A task that is gone leaves an IP nobody answers on: fail fast
		// and let the writer try another node.
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
	},
}

// client is one user talking to one node (its address can change: a
// container that restarts may get a new IP).
type client struct {
	mu       sync.Mutex
	addr     string // host:port
	username string
	token    string
}

func newClient(ip string) *client { return &client{addr: net.JoinHostPort(ip, "8080")} }

func (c *client) setAddr(ip string) {
	c.mu.Lock()
	c.addr = net.JoinHostPort(ip, "8080")
	c.mu.Unlock()
}

// via returns a client for the same user on another node.
func (c *client) via(ip string) *client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &client{addr: net.JoinHostPort(ip, "8080"), username: c.username, token: c.token}
}

func (c *client) send(method, path string, body any) (int, http.Header, []byte, error) {
	c.mu.Lock()
	addr, token := c.addr, c.token
	c.mu.Unlock()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// register creates the user (retrying while the node is not ready) and
// logs in.
func (c *client) register(t *testing.T, username string) {
	t.Helper()
	c.username = username
	waitFor(t, 60*time.Second, "register "+username, func() string {
		st, _, b, err := c.send("POST", "/api/auth/register", map[string]any{"username": username, "password": "password-" + username})
		switch {
		case err != nil:
			return err.Error()
		case st == http.StatusCreated:
			return ""
		case st == http.StatusServiceUnavailable:
			return string(b)
		}
		t.Fatalf("register %s: status %d: %s", username, st, b)
		return ""
	})
	c.login(t)
}

// knownOn waits until the user is known to every node of ips (each read
// model has projected the registration), so writes through any node find
// it.
func (c *client) knownOn(t *testing.T, ips []string) {
	t.Helper()
	for _, ip := range ips {
		waitFor(t, 60*time.Second, "user "+c.username+" known on "+ip, func() string {
			st, _, b, err := c.via(ip).send("GET", "/api/me", nil)
			if err != nil {
				return err.Error()
			}
			if st != http.StatusOK {
				return fmt.Sprintf("status %d: %s", st, b)
			}
			return ""
		})
	}
}

// login gets a token (the user may take a moment to reach this node).
func (c *client) login(t *testing.T) {
	t.Helper()
	waitFor(t, 60*time.Second, "log in "+c.username, func() string {
		st, _, b, err := c.send("POST", "/api/auth/login", map[string]any{"username": c.username, "password": "password-" + c.username})
		if err != nil {
			return err.Error()
		}
		if st != http.StatusOK {
			return fmt.Sprintf("status %d: %s", st, b)
		}
		var out struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
			return fmt.Sprintf("no token in %s", b)
		}
		c.mu.Lock()
		c.token = out.Token
		c.mu.Unlock()
		return ""
	})
}

// written is an acknowledged write.
type written struct {
	User     int // index of the writer in a load
	ID       string
	Position int64
	At       time.Time
}

var slotBase = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)

// create creates the appointment of slot (an hour each: slots never
// overlap); w is nil unless the node acknowledged it.
func (c *client) create(slot int) (*written, int, error) {
	start := slotBase.Add(time.Duration(slot) * time.Hour)
	st, h, b, err := c.send("POST", "/api/appointments", map[string]any{
		"title": fmt.Sprintf("slot %d", slot),
		"start": start.Format(time.RFC3339), "end": start.Add(30 * time.Minute).Format(time.RFC3339),
	})
	if err != nil || st != http.StatusCreated {
		if err == nil {
			err = fmt.Errorf("status %d: %s", st, b)
		}
		return nil, st, err
	}
	var a struct {
		ID string `json:"id"`
	}
	pos, perr := strconv.ParseInt(h.Get("X-Agenda-Position"), 10, 64)
	if json.Unmarshal(b, &a) != nil || a.ID == "" || perr != nil {
		return nil, st, fmt.Errorf("created, but no id or position: %s", b)
	}
	return &written{ID: a.ID, Position: pos, At: time.Now()}, st, nil
}

func (c *client) mustCreate(t *testing.T, slot int) written {
	t.Helper()
	w, _, err := c.create(slot)
	if err != nil {
		t.Fatalf("create slot %d on %s: %v", slot, c.addr, err)
	}
	return *w
}

// createEventually retries (each time on a fresh slot: an attempt whose
// answer was lost may have committed) until a write is acknowledged.
func (c *client) createEventually(t *testing.T, slot int, d time.Duration) written {
	t.Helper()
	var w *written
	waitFor(t, d, "a write through "+c.addr, func() string {
		ww, _, err := c.create(slot)
		slot += 1000
		if err != nil {
			return err.Error()
		}
		w = ww
		return ""
	})
	return *w
}

// expectVisible checks that every write of ws reads back on c's node, once
// its read model has reached the write's position.
func (c *client) expectVisible(t *testing.T, ws ...written) {
	t.Helper()
	if missing := c.missing(ws); len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged writes missing on %s: %v", len(missing), len(ws), c.addr, missing)
	}
}

// missing returns the IDs of ws the node does not serve.
func (c *client) missing(ws []written) []string {
	var out []string
	for _, w := range ws {
		ok := false
		for attempt := 0; attempt < 20 && !ok; attempt++ {
			st, _, _, err := c.send("GET", fmt.Sprintf("/api/appointments/%s?min_position=%d", w.ID, w.Position), nil)
			switch {
			case err == nil && st == http.StatusOK:
				ok = true
			case err == nil && st == http.StatusNotFound:
				attempt = 20 // served from a read model at its position: gone
			default:
				time.Sleep(250 * time.Millisecond)
			}
		}
		if !ok {
			out = append(out, w.ID)
		}
	}
	return out
}

// load is a set of writers, one per user, each writing through a node
// picked at random among targets() on every attempt.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	acked    []written
	failures []failure
	tries    int
	started  time.Time
	// gapFrom and gapTo bound the longest gap (set by end).
	gapFrom, gapTo time.Time
}

// failure is a write attempt that was not acknowledged.
type failure struct {
	at     time.Time
	target string
	err    string
}

func startLoad(users []*client, targets func() []string) *load {
	l := &load{stop: make(chan struct{}), started: time.Now()}
	for i, u := range users {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			// Each writer is its own user: slots only have to stay within
			// the dates the API accepts (before 2200).
			slot := 10_000 * (i + 1)
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ips := targets()
				if len(ips) == 0 {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				target := ips[rand.IntN(len(ips))]
				w, _, err := u.via(target).create(slot)
				slot++
				l.mu.Lock()
				l.tries++
				if w != nil {
					w.User = i
					l.acked = append(l.acked, *w)
				} else if err != nil {
					l.failures = append(l.failures, failure{time.Now(), target, err.Error()})
				}
				l.mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

// end stops the writers and returns the acknowledged writes, the number
// of attempts and the longest time without an acknowledged write.
func (l *load) end() ([]written, int, time.Duration) {
	close(l.stop)
	l.wg.Wait()
	end := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	ws := append([]written(nil), l.acked...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].At.Before(ws[j].At) })
	prev, gap := l.started, time.Duration(0)
	for _, w := range append(ws, written{At: end}) {
		if d := w.At.Sub(prev); d > gap {
			gap, l.gapFrom, l.gapTo = d, prev, w.At
		}
		prev = w.At
	}
	return ws, l.tries, gap
}

// gapErrors describes the failed attempts during the longest gap, for the
// log: why nothing was acknowledged then.
func (l *load) gapErrors() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	count := map[string]int{}
	for _, f := range l.failures {
		if !f.at.Before(l.gapFrom) && !f.at.After(l.gapTo) {
			msg := f.err
			if len(msg) > 120 {
				msg = msg[:120]
			}
			count[f.target+": "+msg]++
		}
	}
	var out []string
	for m, n := range count {
		out = append(out, fmt.Sprintf("%d× %s", n, m))
	}
	sort.Strings(out)
	if len(out) > 12 {
		out = out[:12]
	}
	return strings.Join(out, "\n")
}

// lostWrites counts the writes of ws (made by users, each read with its
// writer's token) that some node of ips does not serve.
func lostWrites(users []*client, ws []written, ips []string) int {
	lost := map[string]bool{}
	for _, ip := range ips {
		for i, u := range users {
			var mine []written
			for _, w := range ws {
				if w.User == i {
					mine = append(mine, w)
				}
			}
			for _, id := range u.via(ip).missing(mine) {
				lost[id] = true
			}
		}
	}
	return len(lost)
}

// readyErr is "" if the node at ip answers /readyz with 200.
func readyErr(ip string) string {
	resp, err := httpc.Get("http://" + net.JoinHostPort(ip, "8080") + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("%s: %s", ip, bytes.TrimSpace(b))
	}
	return ""
}

// status is the part of /cluster/status the tests read.
type status struct {
	NodeID   string `json:"node_id"`
	LeaderID string `json:"leader_id"`
	Nodes    []struct {
		ID       string `json:"id"`
		Address  string `json:"address"`
		Suffrage string `json:"suffrage"`
	} `json:"nodes"`
}

func getStatus(ip string) (status, error) {
	var s status
	resp, err := httpc.Get("http://" + net.JoinHostPort(ip, "8080") + "/cluster/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("status %d", resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// voters returns the voter IDs of s.
func (s status) voters() []string {
	var out []string
	for _, n := range s.Nodes {
		if n.Suffrage == "Voter" {
			out = append(out, n.ID)
		}
	}
	sort.Strings(out)
	return out
}

// stableErr is "" when every node of ips is ready, they follow one leader,
// and its configuration has exactly want voters.
func stableErr(ips []string, want int) string {
	if len(ips) != want {
		return fmt.Sprintf("%d nodes reachable, want %d", len(ips), want)
	}
	leader := ""
	for _, ip := range ips {
		if e := readyErr(ip); e != "" {
			return e
		}
		s, err := getStatus(ip)
		if err != nil {
			return err.Error()
		}
		if leader == "" {
			leader = s.LeaderID
		}
		if s.LeaderID != leader {
			return fmt.Sprintf("%s follows %s, another %s", s.NodeID, s.LeaderID, leader)
		}
		if v := s.voters(); len(v) != want {
			return fmt.Sprintf("%s: voters %v, want %d", s.NodeID, v, want)
		}
	}
	return ""
}

// balancer stands for the load balancer in front of a cluster: every
// 500 ms it probes /readyz on every node all() lists and hands out the
// ready ones. A node that has just restarted takes writes but answers them
// only once its read model has caught up; a balancer that checks readiness
// keeps clients off it meanwhile (deploy/README.md).
type balancer struct {
	mu    sync.Mutex
	ready []string
	stop  chan struct{}
	done  chan struct{}
}

func newBalancer(all func() []string) *balancer {
	b := &balancer{stop: make(chan struct{}), done: make(chan struct{})}
	probe := func() {
		var ready []string
		for _, ip := range all() {
			if readyErr(ip) == "" {
				ready = append(ready, ip)
			}
		}
		b.mu.Lock()
		b.ready = ready
		b.mu.Unlock()
	}
	probe()
	go func() {
		defer close(b.done)
		for {
			select {
			case <-b.stop:
				return
			case <-time.After(500 * time.Millisecond):
				probe()
			}
		}
	}()
	return b
}

// targets returns the nodes ready at the last probe.
func (b *balancer) targets() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ready...)
}

func (b *balancer) close() { close(b.stop); <-b.done }
