package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestBenchPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := benchPercentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := benchPercentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
	if got := benchPercentile([]time.Duration{7}, 50); got != 7 {
		t.Errorf("p50 of one = %v, want 7", got)
	}
}

func TestBenchLatencyOfUnsorted(t *testing.T) {
	ds := []time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	got := latencyOf(ds)
	want := benchLatency{P50: 2, P95: 4, P99: 4, Max: 4, Mean: 2.5}
	if got != want {
		t.Errorf("latencyOf = %+v, want %+v", got, want)
	}
}

func TestBenchErrorKey(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"error answer", &benchFailure{status: 409, code: "schedule_conflict"}, "409 schedule_conflict"},
		{"answer without a code", &benchFailure{status: 502}, "502"},
		{"retry answer", &benchRetry{benchFailure: &benchFailure{status: 503, code: "unavailable"}, after: time.Second}, "503 unavailable"},
		{"wrapped", fmt.Errorf("POST /x: %w", &benchFailure{status: 400, code: "invalid"}), "400 invalid"},
		{"scenario's own", benchErrorKind("ws_frame_timeout"), "ws_frame_timeout"},
		{"deadline", context.DeadlineExceeded, "timeout"},
		{"net timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, "timeout"},
		{"refused", errors.New("dial tcp: connection refused"), "transport"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := benchErrorKey(c.err); got != c.want {
				t.Errorf("benchErrorKey(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}

// The summary merges every client's records, splits kinds only when there
// are several, and prints one JSON line.
func TestBenchSummarize(t *testing.T) {
	a, b := newBenchRecorder(), newBenchRecorder()
	for i := 1; i <= 60; i++ {
		a.add("read", time.Duration(i)*time.Millisecond, nil)
	}
	for i := 61; i <= 100; i++ {
		b.add("create", time.Duration(i)*time.Millisecond, nil)
	}
	b.add("create", time.Second, &benchFailure{status: 409, code: "schedule_conflict"})
	b.add("create", time.Second, &benchFailure{status: 409, code: "schedule_conflict"})
	a.add("read", time.Second, errors.New("connection reset"))
	o := benchOptions{Scenario: "mixed", Nodes: []string{"http://n1"}, Concurrency: 2, Prefix: "p"}
	s := summarize(o, benchRun{elapsed: 2 * time.Second, recs: []*benchRecorder{a, b}}, map[string]any{"read_pct": 60})

	if s.Ops != 100 || s.Errors != 3 || s.Throughput != 50 {
		t.Errorf("ops %d errors %d throughput %v, want 100, 3, 50", s.Ops, s.Errors, s.Throughput)
	}
	if s.LatencyMS.P50 != 50 || s.LatencyMS.P99 != 99 || s.LatencyMS.Max != 100 {
		t.Errorf("latency %+v, want p50 50, p99 99, max 100", s.LatencyMS)
	}
	if want := map[string]int64{"409 schedule_conflict": 2, "transport": 1}; fmt.Sprint(s.ErrorsByCode) != fmt.Sprint(want) {
		t.Errorf("errors by code %v, want %v", s.ErrorsByCode, want)
	}
	if r, c := s.Kinds["read"], s.Kinds["create"]; r.Ops != 60 || r.LatencyMS.Max != 60 || c.Ops != 40 || c.LatencyMS.P50 != 80 || c.Throughput != 20 {
		t.Errorf("kinds %+v", s.Kinds)
	}

	var out bytes.Buffer
	if err := s.writeJSON(&out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.HasSuffix(out.String(), "\n") {
		t.Fatalf("JSON output is %d lines, want 1: %q", n, out.String())
	}
	var back map[string]any
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "nodes", "concurrency", "ops", "errors", "throughput", "latency_ms", "errors_by_code", "interrupted", "params", "kinds"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON line lacks %q: %s", k, out.String())
		}
	}

	var human bytes.Buffer
	s.writeHuman(&human)
	for _, want := range []string{"100 ok, 3 failed", "50.0/s", "p99 99.00 ms", "409 schedule_conflict: 2", "transport: 1", "create", "read"} {
		if !strings.Contains(human.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, human.String())
		}
	}

	one := summarize(benchOptions{Scenario: "create"}, benchRun{elapsed: time.Second, recs: []*benchRecorder{b}}, nil)
	if one.Kinds != nil {
		t.Errorf("one kind of operation still split: %+v", one.Kinds)
	}
}

func TestBenchProgressPlainLines(t *testing.T) {
	var out bytes.Buffer
	p := newBenchProgress(&out)
	p.line(time.Second, 100, 0)
	p.line(2*time.Second, 300, 1)
	p.end()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || strings.Contains(out.String(), "\r") {
		t.Fatalf("progress off a terminal = %q, want 2 plain lines", out.String())
	}
	if !strings.Contains(lines[1], "300 ok") || !strings.Contains(lines[1], "200/s now") || !strings.Contains(lines[1], "150/s overall") {
		t.Errorf("second line %q", lines[1])
	}
}

func TestBenchFlags(t *testing.T) {
	ok := func(args ...string) benchOptions {
		t.Helper()
		o, err := parseBenchFlags(args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return o
	}
	o := ok()
	if o.Duration != 10*time.Second || o.Count != 0 || o.Scenario != "create" || len(o.Nodes) != 1 || !benchUsernamePrefix.MatchString(o.Prefix) {
		t.Errorf("defaults %+v", o)
	}
	if o2 := ok(); o2.Prefix == o.Prefix {
		t.Errorf("two runs share the prefix %q", o.Prefix)
	}
	o = ok("-nodes", "127.0.0.1:1, https://h:2/ ,http://h3:3", "-n", "200", "-c", "8", "-prefix", "e2e")
	if want := []string{"http://127.0.0.1:1", "https://h:2", "http://h3:3"}; fmt.Sprint(o.Nodes) != fmt.Sprint(want) {
		t.Errorf("nodes %q, want %q", o.Nodes, want)
	}
	if o.Count != 200 || o.Duration != 0 || o.Prefix != "e2e" {
		t.Errorf("count %d duration %v prefix %q", o.Count, o.Duration, o.Prefix)
	}
	if o := ok("-scenario", "ws", "-c", "4", "-subscribers", "4", "-d", "2s"); o.Duration != 2*time.Second {
		t.Errorf("duration %v", o.Duration)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "5", "-d", "1s"}, "exclude each other"},
		{[]string{"-n", "0"}, "-n 0"},
		{[]string{"-d", "0s"}, "-d 0s"},
		{[]string{"-c", "0"}, "-c 0"},
		{[]string{"-c", "many"}, "invalid value"},
		{[]string{"-scenario", "burst"}, `-scenario "burst"`},
		{[]string{"-nodes", ""}, "at least one node"},
		{[]string{"-nodes", "ftp://h:1"}, "not a node URL"},
		{[]string{"-nodes", "http://h:1/api"}, "not a node URL"},
		{[]string{"-prefix", "Bad Prefix"}, "-prefix"},
		{[]string{"-prefix", "much-too-long-a-prefix-for-names"}, "-prefix"},
		{[]string{"-seed", "0"}, "-seed 0"},
		{[]string{"-read-pct", "101"}, "-read-pct 101"},
		{[]string{"-members", "0"}, "-members 0"},
		{[]string{"-scenario", "ws", "-c", "8", "-subscribers", "4"}, "-subscribers 4 below -c 8"},
		{[]string{"-timeout", "-1s"}, "-timeout"},
		{[]string{"stray"}, "unexpected arguments"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := parseBenchFlags(c.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			// Through the command, a bad flag is exit code 2.
			var ee *exitError
			if err := benchCmd(c.args, io.Discard, io.Discard); !errors.As(err, &ee) || ee.code != 2 {
				t.Errorf("benchCmd error %v, want exit code 2", err)
			}
		})
	}
}

func TestBenchNodeFigures(t *testing.T) {
	parse := func(text string) benchNodeSample {
		return parseBenchMetrics(bufio.NewScanner(strings.NewReader(text)))
	}
	before := parse("# HELP process_cpu_seconds_total x\nprocess_cpu_seconds_total 10.5\ngo_goroutines 40\nprocess_resident_memory_bytes 5.24288e+07\n")
	if !before.ok || before.cpuSeconds != 10.5 || before.rssBytes != 50<<20 {
		t.Fatalf("parsed %+v", before)
	}
	if s := parse("go_goroutines 40\nprocess_cpu_seconds_total 1\n"); s.ok {
		t.Errorf("a sample without memory is ok: %+v", s)
	}

	s := benchSummary{Ops: 1000}
	s.addNodeFigures([]benchNodeSample{before, before}, []benchNodeSample{
		{cpuSeconds: 12.5, rssBytes: 60 << 20, ok: true},
		{cpuSeconds: 11.5, rssBytes: 70 << 20, ok: true},
	})
	if s.NodeCPUS != 3 || s.NodeCPUMSPerOp != 3 || fmt.Sprint(s.NodeRSSMB) != "[60 70]" {
		t.Errorf("node figures %v s, %v ms/op, %v MB; want 3, 3, [60 70]", s.NodeCPUS, s.NodeCPUMSPerOp, s.NodeRSSMB)
	}

	// A node that did not answer leaves the figures out rather than wrong.
	s = benchSummary{Ops: 1000}
	s.addNodeFigures([]benchNodeSample{before, {}}, []benchNodeSample{before, before})
	if s.NodeRSSMB != nil || s.NodeCPUS != 0 {
		t.Errorf("figures from a silent node: %+v", s)
	}
}
