package main

// Cluster harness: clients, writes to slots, and what each node's event store
// and log hold.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// client returns an API client of the node, for the test goroutine.
func (n *clusterNode) client() *client {
	return &client{t: n.tc.t, base: n.url(), http: n.tc.httpClient(15 * time.Second)}
}

// as returns a copy of c (its login) talking to node n.
func (c *client) as(n *clusterNode) *client {
	cp := *c
	cp.base = n.url()
	return &cp
}

// registerOn registers username through node n, retrying while the cluster
// answers unavailable, and returns a logged-in client of n.
func (tc *testCluster) registerOn(n *clusterNode, username string) *client {
	tc.t.Helper()
	c := n.client()
	body := map[string]any{"username": username, "password": "password-" + username}
	tc.eventually(15*time.Second, "register "+username, func() string {
		r, err := c.send("POST", "/api/auth/register", body)
		switch {
		case err != nil:
			return err.Error()
		case r.Status == http.StatusCreated:
			return ""
		case r.Status == http.StatusServiceUnavailable:
			return string(r.Body)
		}
		tc.t.Fatalf("register %s on %s: status %d: %s", username, n.id, r.Status, r.Body)
		return ""
	})
	tc.eventually(10*time.Second, "log in "+username, func() string {
		var out struct {
			Token string `json:"token"`
			User  struct {
				ID string `json:"id"`
			} `json:"user"`
		}
		r, err := c.send("POST", "/api/auth/login", map[string]any{"username": username, "password": "password-" + username})
		if err != nil {
			return err.Error()
		}
		if r.Status != http.StatusOK {
			// The user may not have reached this node's read model yet.
			return fmt.Sprintf("status %d: %s", r.Status, r.Body)
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			return err.Error()
		}
		c.token, c.userID = out.Token, out.User.ID
		return ""
	})
	return c
}

// clusterBase is the first slot of the appointments the cluster tests create.
var clusterBase = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)

// written is an acknowledged write.
type written struct {
	ID       string
	Position int64
	Node     string
}

// tryCreate creates the appointment in slot (one hour each, so slots never
// overlap) for c's user. It never touches the test: it returns the answer
// or the transport error, and the write if it was acknowledged.
func tryCreateSlot(c *client, slot int) (*response, *written, error) {
	start := clusterBase.Add(time.Duration(slot) * time.Hour)
	r, err := c.send("POST", "/api/appointments", appointmentBody(fmt.Sprintf("slot %d", slot), start, 30*time.Minute))
	if err != nil || r.Status != http.StatusCreated {
		return r, nil, err
	}
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.Body, &a); err != nil || a.ID == "" {
		return r, nil, fmt.Errorf("created, but no id in %s", r.Body)
	}
	pos, err := strconv.ParseInt(r.Header.Get("X-Agenda-Position"), 10, 64)
	if err != nil || pos <= 0 {
		return r, nil, fmt.Errorf("created, but X-Agenda-Position = %q", r.Header.Get("X-Agenda-Position"))
	}
	return r, &written{ID: a.ID, Position: pos}, nil
}

// create creates the appointment in slot through c, failing the test unless
// it is acknowledged.
func mustCreateSlot(t testing.TB, c *client, slot int) written {
	t.Helper()
	r, w, err := tryCreateSlot(c, slot)
	if err != nil {
		t.Fatalf("create slot %d on %s: %v", slot, c.base, err)
	}
	if w == nil {
		t.Fatalf("create slot %d on %s: status %d: %s", slot, c.base, r.Status, r.Body)
	}
	return *w
}

// createEventually retries create until the cluster acknowledges it (after
// a failover, say) and returns the write and how long it took. Each retry
// takes a fresh slot (slot + k·50,000), as an attempt whose answer was lost
// may have committed.
func (tc *testCluster) createEventually(c *client, slot int, d time.Duration) (written, time.Duration) {
	tc.t.Helper()
	start := time.Now()
	var w *written
	try := slot
	tc.eventually(d, fmt.Sprintf("create slot %d on %s", slot, c.base), func() string {
		r, ww, err := tryCreateSlot(c, try)
		try += 50_000
		switch {
		case err != nil:
			return err.Error()
		case ww != nil:
			w = ww
			return ""
		case r.Status != http.StatusServiceUnavailable:
			tc.t.Fatalf("create slot %d on %s: status %d: %s", try, c.base, r.Status, r.Body)
		}
		return fmt.Sprintf("status %d: %s", r.Status, r.Body)
	})
	return *w, time.Since(start)
}

// readAt fetches appointment id from node n with min_position pos (and the
// given extra query), returning the answer.
func readAtPosition(c *client, id string, pos int64, query string) (*response, error) {
	path := fmt.Sprintf("/api/appointments/%s?min_position=%d", id, pos)
	if query != "" {
		path += "&" + query
	}
	return c.send("GET", path, nil)
}

// expectVisibleEverywhere reads every write on every node of group with
// min_position: read-your-writes on any node.
func (tc *testCluster) expectVisibleEverywhere(c *client, group []*clusterNode, ws []written) {
	tc.t.Helper()
	for _, n := range group {
		cn := c.as(n)
		for _, w := range ws {
			r, err := readAtPosition(cn, w.ID, w.Position, "")
			if err != nil {
				tc.t.Fatalf("read %s on %s: %v", w.ID, n.id, err)
			}
			if r.Status != http.StatusOK {
				tc.t.Fatalf("read %s (position %d) on %s: status %d: %s", w.ID, w.Position, n.id, r.Status, r.Body)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Event store comparison.

// stopAndCompareEventStores waits until every node of group (default: all)
// has reached the same position, at least minPos, stops them all (SIGTERM),
// then reads every node's events.db and fails unless they hold the same
// events — IDs, positions, streams, versions, types, metadata and data, byte
// for byte. Their read models must then be the same too, every table row
// for row: projected from one history, they may differ only by a bug in a
// projection that replicas took different paths through (a live apply, a
// restart, a rebuild after a lost disk). It returns the number of events.
func (tc *testCluster) stopAndCompareEventStores(group []*clusterNode, minPos int64) int {
	tc.t.Helper()
	if group == nil {
		group = tc.nodes
	}
	tc.eventually(30*time.Second, "every node at the same position", func() string {
		var first int64 = -1
		for _, n := range group {
			s, err := n.status()
			if err != nil {
				return fmt.Sprintf("%s: %v", n.id, err)
			}
			if s.Position < minPos {
				return fmt.Sprintf("%s at position %d, want ≥ %d", n.id, s.Position, minPos)
			}
			if first >= 0 && s.Position != first {
				return fmt.Sprintf("positions differ: %s at %d, another at %d", n.id, s.Position, first)
			}
			first = s.Position
		}
		return ""
	})
	for _, n := range group {
		n.stop()
	}
	var ref []events.Envelope
	for i, n := range group {
		evs := readEventStore(tc.t, filepath.Join(n.dataDir, "events.db"))
		if int64(len(evs)) < minPos {
			tc.t.Fatalf("%s's event store has %d events, want ≥ %d", n.id, len(evs), minPos)
		}
		if i == 0 {
			ref = evs
			continue
		}
		if len(evs) != len(ref) {
			tc.t.Fatalf("%s's event store has %d events, %s's %d", n.id, len(evs), group[0].id, len(ref))
		}
		for j := range evs {
			if d := diffEnvelope(ref[j], evs[j]); d != "" {
				tc.t.Fatalf("event %d differs between %s and %s: %s", j+1, group[0].id, n.id, d)
			}
		}
	}
	for j, e := range ref {
		if e.Position != int64(j+1) {
			tc.t.Fatalf("event %d has position %d: positions must be 1, 2, 3, ...", j+1, e.Position)
		}
	}
	tc.t.Logf("event stores of %d nodes identical: %d events", len(group), len(ref))
	var refModel map[string][]string
	for i, n := range group {
		m := dumpReadModel(tc.t, filepath.Join(n.dataDir, "readmodel.db"))
		if i == 0 {
			refModel = m
			continue
		}
		for _, d := range readModelDiffs(refModel, m, group[0].id, n.id) {
			tc.t.Errorf("read models differ: %s", d)
		}
	}
	rows := 0
	for _, r := range refModel {
		rows += len(r)
	}
	tc.t.Logf("read models of %d nodes compared: %d rows in %d tables", len(group), rows, len(refModel))
	return len(ref)
}

// readEventStore returns every event of the store at path, in order.
func readEventStore(t testing.TB, path string) []events.Envelope {
	t.Helper()
	ctx := context.Background()
	s, err := eventstore.Open(ctx, path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer s.Close()
	var all []events.Envelope
	var after int64
	for {
		page, err := s.Read(ctx, after, 1000)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Position
	}
}

// diffEnvelope describes how two events differ, "" if they do not.
func diffEnvelope(a, b events.Envelope) string {
	var d []string
	if a.ID != b.ID {
		d = append(d, fmt.Sprintf("id %s / %s", a.ID, b.ID))
	}
	if a.Position != b.Position {
		d = append(d, fmt.Sprintf("position %d / %d", a.Position, b.Position))
	}
	if a.Stream != b.Stream || a.Version != b.Version {
		d = append(d, fmt.Sprintf("stream %s@%d / %s@%d", a.Stream, a.Version, b.Stream, b.Version))
	}
	if a.Type != b.Type || a.SchemaVersion != b.SchemaVersion {
		d = append(d, fmt.Sprintf("type %s v%d / %s v%d", a.Type, a.SchemaVersion, b.Type, b.SchemaVersion))
	}
	if !a.Time.Equal(b.Time) || a.OriginNode != b.OriginNode || a.Actor != b.Actor || a.CorrelationID != b.CorrelationID {
		d = append(d, fmt.Sprintf("meta %v %s %s %s / %v %s %s %s", a.Time, a.OriginNode, a.Actor, a.CorrelationID, b.Time, b.OriginNode, b.Actor, b.CorrelationID))
	}
	if !bytes.Equal(a.Data, b.Data) {
		d = append(d, fmt.Sprintf("data %s / %s", a.Data, b.Data))
	}
	return strings.Join(d, "; ")
}

// logContains reports whether the node's log has a line containing s.
func (n *clusterNode) logContains(s string) bool { return n.logCount(s) > 0 }

// logCount counts the lines of the node's log that contain s.
func (n *clusterNode) logCount(s string) int {
	f, err := os.Open(n.logPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	count := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			count++
		}
	}
	return count
}

// writers write in a loop through nodes, one user each, recording every
// acknowledged write: the test checks afterwards that none was lost.
type bgWriters struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	acked    []written
	attempts int
}

// startWriters starts one writer per user, user i writing through
// nodes[i], in slots from firstSlot on (each user's own), with a client
// timeout of 8 s.
func startBgWriters(users []*client, nodes []*clusterNode, firstSlot int) *bgWriters {
	ws := &bgWriters{stop: make(chan struct{})}
	for i, u := range users {
		c := u.as(nodes[i])
		c.http = &http.Client{Timeout: 8 * time.Second}
		ws.wg.Add(1)
		go func(c *client, node string) {
			defer ws.wg.Done()
			for slot := firstSlot; ; slot++ {
				select {
				case <-ws.stop:
					return
				default:
				}
				_, w, _ := tryCreateSlot(c, slot)
				ws.mu.Lock()
				ws.attempts++
				if w != nil {
					w.Node = node
					ws.acked = append(ws.acked, *w)
				}
				ws.mu.Unlock()
				// A modest, steady load: the point is what happens to
				// writes across the faults, not throughput.
				time.Sleep(20 * time.Millisecond)
			}
		}(c, nodes[i].id)
	}
	return ws
}

// end stops the writers and returns the acknowledged writes and the number
// of attempts.
func (ws *bgWriters) end() ([]written, int) {
	close(ws.stop)
	ws.wg.Wait()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.acked, ws.attempts
}
