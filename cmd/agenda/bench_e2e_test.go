package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runBenchOn runs `agenda bench args...` against n and returns its JSON
// line, failing unless it is the only line on stdout.
func runBenchOn(t *testing.T, ctx context.Context, n *Node, args ...string) (benchSummary, error) {
	t.Helper()
	o, err := parseBenchFlags(append([]string{"-nodes", "http://" + n.HTTPAddr()}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	runErr := runBench(ctx, o, &stdout, &stderr)
	if strings.Count(stdout.String(), "\n") != 1 {
		t.Fatalf("stdout is not one JSON line: %q\nstderr:\n%s", stdout.String(), stderr.String())
	}
	var s benchSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("decode %q: %v", stdout.String(), err)
	}
	if !strings.Contains(stderr.String(), "throughput") {
		t.Errorf("no human summary on stderr:\n%s", stderr.String())
	}
	return s, runErr
}

// agendaCount is how many entries user (logged in with the bench password)
// has in [from, to).
func agendaCount(t *testing.T, n *Node, user string, from, to time.Time) int {
	t.Helper()
	c := newClient(t, n)
	c.login(user, benchPassword)
	var entries []json.RawMessage
	c.do("GET", agendaPath(from, to), nil).expect(t, http.StatusOK).JSON(t, &entries)
	return len(entries)
}

// A node with METRICS_TOKEN answers /metrics to the bearer of it only: the
// load tool reads its CPU time and memory there with -metrics-token, and
// without it still runs, leaving those figures out; a stranger's scrape is
// refused.
func TestBenchReadsMetricsWithTheNodesToken(t *testing.T) {
	const token = "bench-metrics-token-0123456789abcdef"
	cfg := testConfig(t, t.TempDir())
	cfg.MetricsToken = token
	n := startNode(t, cfg)
	s, err := runBenchOn(t, context.Background(), n, "-scenario", "create", "-n", "20", "-c", "2", "-metrics-token", token)
	if err != nil || s.Ops != 20 {
		t.Fatalf("bench with the token: %+v, %v", s, err)
	}
	if len(s.NodeRSSMB) != 1 || s.NodeRSSMB[0] <= 0 || s.NodeCPUMSPerOp <= 0 {
		t.Errorf("with the token, node figures %v MB, %v CPU-ms per op", s.NodeRSSMB, s.NodeCPUMSPerOp)
	}
	s, err = runBenchOn(t, context.Background(), n, "-scenario", "create", "-n", "20", "-c", "2", "-metrics-token", "")
	if err != nil || s.Ops != 20 {
		t.Fatalf("bench without the token: %+v, %v", s, err)
	}
	if len(s.NodeRSSMB) != 0 || s.NodeCPUMSPerOp != 0 {
		t.Errorf("without the token, node figures %v MB, %v CPU-ms per op: read from where?", s.NodeRSSMB, s.NodeCPUMSPerOp)
	}
	resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a scrape without the token: %d, want 401", resp.StatusCode)
	}
}

// 200 creates by 8 clients: the JSON line says 200 succeeded, and the 200
// appointments are in the 8 users' agendas.
func TestBenchCreateE2E(t *testing.T) {
	n := mustStartNode(t)
	s, err := runBenchOn(t, context.Background(), n, "-scenario", "create", "-n", "200", "-c", "8", "-prefix", "e2e")
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	if s.Ops != 200 || s.Errors != 0 || s.Interrupted || s.Concurrency != 8 || s.Scenario != "create" {
		t.Fatalf("summary %+v, want 200 creates, no error", s)
	}
	if s.Throughput <= 0 || s.LatencyMS.P50 <= 0 || s.LatencyMS.P50 > s.LatencyMS.P99 || s.LatencyMS.P99 > s.LatencyMS.Max {
		t.Errorf("figures %+v", s)
	}
	if len(s.NodeRSSMB) != 1 || s.NodeRSSMB[0] <= 0 || s.NodeCPUMSPerOp <= 0 {
		t.Errorf("node figures from /metrics: %v MB, %v CPU-ms per op", s.NodeRSSMB, s.NodeCPUMSPerOp)
	}
	total := 0
	for i := range 8 {
		total += agendaCount(t, n, "e2e-c"+strconv.Itoa(i), benchEpoch, benchEpoch.Add(201*time.Hour))
	}
	if total != 200 {
		t.Errorf("%d appointments stored, want 200", total)
	}

	// The same cluster takes a second run: its users are new.
	s, err = runBenchOn(t, context.Background(), n, "-n", "20", "-c", "2")
	if err != nil || s.Ops != 20 || s.Errors != 0 {
		t.Fatalf("second run: %v %+v", err, s)
	}
}

// The other scenarios, small: each ends with every operation succeeded
// and leaves what it says in the agendas.
func TestBenchScenariosE2E(t *testing.T) {
	n := mustStartNode(t)
	t.Run("group", func(t *testing.T) {
		s, err := runBenchOn(t, context.Background(), n, "-scenario", "group", "-n", "30", "-c", "2", "-members", "3", "-prefix", "grp")
		if err != nil || s.Ops != 30 || s.Errors != 0 {
			t.Fatalf("%v %+v", err, s)
		}
		// Imposed on every member below the organiser.
		got := agendaCount(t, n, "grp-g0-m2", benchEpoch, benchEpoch.Add(31*time.Hour)) + agendaCount(t, n, "grp-g1-m2", benchEpoch, benchEpoch.Add(31*time.Hour))
		if got != 30 {
			t.Errorf("members' agendas hold %d group appointments, want 30", got)
		}
	})
	t.Run("read", func(t *testing.T) {
		s, err := runBenchOn(t, context.Background(), n, "-scenario", "read", "-seed", "336", "-n", "50", "-c", "4", "-prefix", "rd")
		if err != nil || s.Ops != 50 || s.Errors != 0 {
			t.Fatalf("%v %+v", err, s)
		}
		if got := agendaCount(t, n, "rd-reader", benchEpoch, benchEpoch.Add(7*24*time.Hour)); got != 168 {
			t.Errorf("a seeded week holds %d entries, want 168", got)
		}
	})
	t.Run("mixed", func(t *testing.T) {
		s, err := runBenchOn(t, context.Background(), n, "-scenario", "mixed", "-seed", "50", "-read-pct", "50", "-n", "200", "-c", "4")
		if err != nil || s.Ops != 200 || s.Errors != 0 {
			t.Fatalf("%v %+v", err, s)
		}
		if r, c := s.Kinds["read"].Ops, s.Kinds["create"].Ops; r+c != 200 || r < 50 || c < 50 {
			t.Errorf("%d reads and %d creates of 200 at 50 %%", r, c)
		}
	})
	t.Run("ws", func(t *testing.T) {
		s, err := runBenchOn(t, context.Background(), n, "-scenario", "ws", "-subscribers", "6", "-n", "60", "-c", "3", "-prefix", "ws")
		if err != nil || s.Ops != 60 || s.Errors != 0 {
			t.Fatalf("%v %+v", err, s)
		}
		if early, ok := s.Params["frames_before_ack"].(float64); !ok || early < 0 || early > 60 {
			t.Errorf("frames_before_ack %v, want 0..60", s.Params["frames_before_ack"])
		}
		total := 0
		for i := range 6 {
			total += agendaCount(t, n, "ws-s"+strconv.Itoa(i), benchEpoch, benchEpoch.Add(100*time.Hour))
		}
		if total != 60 {
			t.Errorf("the subscribers wrote %d appointments, want 60", total)
		}
	})
}

// Ctrl-C (here ctx ending) stops a long run early and still reports, as
// interrupted.
func TestBenchInterruptedE2E(t *testing.T) {
	n := mustStartNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	s, err := runBenchOn(t, ctx, n, "-d", "60s", "-c", "2")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 130 {
		t.Errorf("error %v, want exit code 130", err)
	}
	if !s.Interrupted || s.Ops == 0 || s.Errors != 0 {
		t.Errorf("summary %+v, want interrupted with partial figures and no error", s)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v to stop", d)
	}
}

// A registration whose answer was lost may be retried: the name is then
// taken, and register still logs the user in (the same user).
func TestBenchRegisterTwice(t *testing.T) {
	n := mustStartNode(t)
	var warn bytes.Buffer
	api := newBenchAPI([]string{"http://" + n.HTTPAddr()}, 1, 10*time.Second, &warn)
	defer api.close()
	first, err := api.register(context.Background(), "twice")
	if err != nil {
		t.Fatal(err)
	}
	again, err := api.register(context.Background(), "twice")
	if err != nil {
		t.Fatalf("second registration: %v", err)
	}
	if first.id == "" || again.id != first.id || again.token == "" {
		t.Errorf("users %+v and %+v, want one user", first, again)
	}
	if warn.Len() != 0 {
		t.Errorf("warnings: %s", warn.String())
	}
}
