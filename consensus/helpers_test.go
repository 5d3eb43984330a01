package consensus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// testTime has nanoseconds so that a lossy path is caught.
var testTime = time.Date(2026, 3, 20, 13, 4, 5, 123456789, time.UTC)

// testNode is a node opened by a test with the paths needed to reopen it.
type testNode struct {
	*consensus.Node
	cfg   consensus.Config
	store *eventstore.Store

	once     sync.Once
	closeErr error
}

// Close closes the node once; the cleanup registered by startNode calls it
// too.
func (n *testNode) Close() error {
	n.once.Do(func() { n.closeErr = n.Node.Close() })
	return n.closeErr
}

// nodeConfig is a single-node, bootstrapping configuration in dir.
func nodeConfig(dir string) consensus.Config {
	return consensus.Config{
		NodeID:    "node-1",
		Dir:       dir,
		BindAddr:  "127.0.0.1:0",
		Bootstrap: true,
		Secret:    []byte("consensus-test-cluster-secret-0123456789"),
		Logger:    quietLogger,
	}
}

// startNode opens a node over store with cfg, waits until it leads and
// closes it when the test ends.
func startNode(tb testing.TB, cfg consensus.Config, store *eventstore.Store) *testNode {
	tb.Helper()
	n, err := consensus.Open(cfg, store)
	if err != nil {
		tb.Fatalf("consensus.Open: %v", err)
	}
	tn := &testNode{Node: n, cfg: cfg, store: store}
	tb.Cleanup(func() { tn.Close() })
	mustWaitLeader(tb, tn)
	return tn
}

func mustWaitLeader(tb testing.TB, n *testNode) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitLeader(ctx); err != nil {
		tb.Fatalf("WaitLeader: %v", err)
	}
	// Single node: the leader must be this node.
	deadline := time.Now().Add(10 * time.Second)
	for !n.IsLeader() {
		if time.Now().After(deadline) {
			tb.Fatalf("node %s never became leader; status %+v", n.ID(), n.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustStartNode opens a fresh store and a bootstrapped node in a temporary
// directory.
func mustStartNode(tb testing.TB) *testNode {
	tb.Helper()
	dir := tb.TempDir()
	store := mustOpenStoreAt(tb, filepath.Join(dir, "events.db"))
	return startNode(tb, nodeConfig(filepath.Join(dir, "raft")), store)
}

// mustOpenStoreAt opens the event store at path and closes it when the test
// ends (closing twice is harmless).
func mustOpenStoreAt(tb testing.TB, path string) *eventstore.Store {
	tb.Helper()
	s, err := eventstore.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("open event store %s: %v", path, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// newEvent builds a valid appointment.deleted envelope.
func newEvent(tb testing.TB, id, stream string, version int64) events.Envelope {
	tb.Helper()
	e, err := events.New(id, stream, version, events.AppointmentDeleted{AppointmentID: id}, events.Meta{
		Time:          testTime.Add(time.Duration(version) * time.Millisecond),
		OriginNode:    "node-1",
		Actor:         "user-1",
		CorrelationID: "corr-" + id,
	})
	if err != nil {
		tb.Fatalf("events.New: %v", err)
	}
	return e
}

// streamBatch builds n events on stream after version from, expecting the
// stream at from. IDs are stream@version.
func streamBatch(tb testing.TB, stream string, from int64, n int) events.Batch {
	tb.Helper()
	return streamBatchIDs(tb, "", stream, from, n)
}

// streamBatchIDs is streamBatch with IDs idPrefix+stream@version. The store
// checks event IDs before expectations, so a batch meant to provoke a version
// conflict at versions already committed needs IDs that are not committed:
// with streamBatch's IDs it would be reported as a duplicate instead.
func streamBatchIDs(tb testing.TB, idPrefix, stream string, from int64, n int) events.Batch {
	tb.Helper()
	b := events.Batch{Expect: []events.Expectation{{Stream: stream, Version: from}}}
	for v := from + 1; v <= from+int64(n); v++ {
		b.Events = append(b.Events, newEvent(tb, fmt.Sprintf("%s%s@%d", idPrefix, stream, v), stream, v))
	}
	return b
}

func mustPropose(tb testing.TB, n *testNode, b events.Batch) events.Committed {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := n.Propose(ctx, b)
	if err != nil {
		tb.Fatalf("Propose: %v", err)
	}
	return c
}

func propose(n *testNode, b events.Batch) (events.Committed, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Propose(ctx, b)
}

func mustReadAll(tb testing.TB, s *eventstore.Store) []events.Envelope {
	tb.Helper()
	got, err := s.Read(context.Background(), 0, 1<<30)
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return got
}

func mustApplied(tb testing.TB, s *eventstore.Store) uint64 {
	tb.Helper()
	index, _, err := s.Applied(context.Background())
	if err != nil {
		tb.Fatalf("Applied: %v", err)
	}
	return index
}

// requireSameEvents fails unless got and want are field for field equal.
func requireSameEvents(tb testing.TB, got, want []events.Envelope) {
	tb.Helper()
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			tb.Fatalf("event %d differs:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want %d", len(got), len(want))
	}
}

// requireLog checks that s holds exactly the events of batches, in order,
// at dense positions from 1, each once.
func requireLog(tb testing.TB, s *eventstore.Store, batches []events.Batch) {
	tb.Helper()
	var want []events.Envelope
	for _, b := range batches {
		want = append(want, b.Events...)
	}
	got := mustReadAll(tb, s)
	seen := map[string]int64{}
	for i, e := range got {
		if e.Position != int64(i+1) {
			tb.Fatalf("event %d (%s) at position %d, want %d", i, e.ID, e.Position, i+1)
		}
		if p, ok := seen[e.ID]; ok {
			tb.Fatalf("event %s twice, at %d and %d", e.ID, p, e.Position)
		}
		seen[e.ID] = e.Position
	}
	if len(got) != len(want) {
		tb.Fatalf("store holds %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Stream != want[i].Stream || got[i].Version != want[i].Version ||
			!got[i].Time.Equal(want[i].Time) || string(got[i].Data) != string(want[i].Data) {
			tb.Fatalf("event at position %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
		}
	}
	if got := s.Head(); got != int64(len(want)) {
		tb.Fatalf("Head: got %d, want %d", got, len(want))
	}
}

// copyFile copies a closed SQLite database (no -wal left behind) from src
// to dst, replacing dst and its WAL files.
func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(src + suffix); err == nil {
			tb.Fatalf("%s%s exists: close the database before copying it", src, suffix)
		}
		os.Remove(dst + suffix)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatalf("read %s: %v", src, err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		tb.Fatalf("write %s: %v", dst, err)
	}
}
