package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// benchRecorder holds what one client measured. Each client has its own,
// so recording takes no lock; the summary merges them at the end.
type benchRecorder struct {
	lat    map[string][]time.Duration // successful operations, by kind
	errors map[string]int64           // failures, by benchErrorKey
}

func newBenchRecorder() *benchRecorder {
	return &benchRecorder{lat: map[string][]time.Duration{}, errors: map[string]int64{}}
}

func (r *benchRecorder) add(kind string, lat time.Duration, err error) {
	if err != nil {
		r.errors[benchErrorKey(err)]++
		return
	}
	r.lat[kind] = append(r.lat[kind], lat)
}

// benchFailure is a request the node answered with an error status.
type benchFailure struct {
	status int
	code   string // the body's error.code, if any
}

func (f *benchFailure) Error() string {
	if f.code == "" {
		return fmt.Sprintf("status %d", f.status)
	}
	return fmt.Sprintf("status %d %s", f.status, f.code)
}

// benchErrorKey groups failures for the report: "409 schedule_conflict" for
// an error answer, "timeout" or "transport" when no answer came, or the
// scenario's own word (such as "ws_frame_timeout").
func benchErrorKey(err error) string {
	var f *benchFailure
	var k benchErrorKind
	var ne net.Error
	switch {
	case errors.As(err, &f):
		if f.code == "" {
			return fmt.Sprint(f.status)
		}
		return fmt.Sprintf("%d %s", f.status, f.code)
	case errors.As(err, &k):
		return string(k)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "transport"
}

// benchErrorKind is a failure the scenario names itself.
type benchErrorKind string

func (k benchErrorKind) Error() string { return string(k) }

// benchLatency is a latency distribution in milliseconds.
type benchLatency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// benchPercentile is the nearest-rank percentile p (0–100] of sorted.
func benchPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// latencyOf summarizes ds, sorting it in place.
func latencyOf(ds []time.Duration) benchLatency {
	if len(ds) == 0 {
		return benchLatency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	ms := func(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }
	return benchLatency{
		P50: ms(benchPercentile(ds, 50)), P95: ms(benchPercentile(ds, 95)), P99: ms(benchPercentile(ds, 99)),
		Max: ms(ds[len(ds)-1]), Mean: ms(sum / time.Duration(len(ds))),
	}
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// benchKindSummary is the part of a run of one kind of operation (the
// mixed scenario has reads and creates).
type benchKindSummary struct {
	Ops        int64        `json:"ops"`
	Throughput float64      `json:"throughput"`
	LatencyMS  benchLatency `json:"latency_ms"`
}

// benchSummary is the report of a run; its JSON form is the last line on
// stdout.
type benchSummary struct {
	Scenario     string                      `json:"scenario"`
	Nodes        []string                    `json:"nodes"`
	Concurrency  int                         `json:"concurrency"`
	Prefix       string                      `json:"prefix"`
	Params       map[string]any              `json:"params,omitempty"`
	SetupS       float64                     `json:"setup_s"`
	ElapsedS     float64                     `json:"elapsed_s"`
	Ops          int64                       `json:"ops"`
	Errors       int64                       `json:"errors"`
	Throughput   float64                     `json:"throughput"`
	LatencyMS    benchLatency                `json:"latency_ms"`
	Kinds        map[string]benchKindSummary `json:"kinds,omitempty"`
	ErrorsByCode map[string]int64            `json:"errors_by_code"`
	Interrupted  bool                        `json:"interrupted"`
	// NodeCPUS is the CPU time all the nodes used during the measured run
	// (from their /metrics; absent if a node did not answer), and
	// NodeCPUMSPerOp that per successful operation.
	NodeCPUS       float64   `json:"node_cpu_s,omitempty"`
	NodeCPUMSPerOp float64   `json:"node_cpu_ms_per_op,omitempty"`
	NodeRSSMB      []float64 `json:"node_rss_mb,omitempty"`
}

// summarize merges the clients' records.
func summarize(o benchOptions, run benchRun, params map[string]any) benchSummary {
	s := benchSummary{
		Scenario: o.Scenario, Nodes: o.Nodes, Concurrency: o.Concurrency, Prefix: o.Prefix, Params: params,
		ElapsedS: round3(run.elapsed.Seconds()), ErrorsByCode: map[string]int64{}, Interrupted: run.interrupted,
	}
	var all []time.Duration
	byKind := map[string][]time.Duration{}
	for _, r := range run.recs {
		for k, ds := range r.lat {
			byKind[k] = append(byKind[k], ds...)
			all = append(all, ds...)
		}
		for k, n := range r.errors {
			s.ErrorsByCode[k] += n
			s.Errors += n
		}
	}
	rate := func(n int) float64 {
		if run.elapsed <= 0 {
			return 0
		}
		return math.Round(float64(n)/run.elapsed.Seconds()*10) / 10
	}
	s.Ops = int64(len(all))
	s.Throughput = rate(len(all))
	s.LatencyMS = latencyOf(all)
	if len(byKind) > 1 {
		s.Kinds = map[string]benchKindSummary{}
		for k, ds := range byKind {
			s.Kinds[k] = benchKindSummary{Ops: int64(len(ds)), Throughput: rate(len(ds)), LatencyMS: latencyOf(ds)}
		}
	}
	return s
}

// writeHuman prints the summary for a person.
func (s benchSummary) writeHuman(w io.Writer) {
	state := "done"
	if s.Interrupted {
		state = "interrupted (partial figures)"
	}
	fmt.Fprintf(w, "\n%s: %s, %d clients, %s\n", s.Scenario, state, s.Concurrency, strings.Join(s.Nodes, ","))
	fmt.Fprintf(w, "  operations  %d ok, %d failed in %.2fs (setup %.1fs)\n", s.Ops, s.Errors, s.ElapsedS, s.SetupS)
	fmt.Fprintf(w, "  throughput  %.1f/s\n", s.Throughput)
	l := s.LatencyMS
	fmt.Fprintf(w, "  latency     p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms  mean %.2f ms\n", l.P50, l.P95, l.P99, l.Max, l.Mean)
	if s.NodeRSSMB != nil {
		rss := make([]string, len(s.NodeRSSMB))
		for i, m := range s.NodeRSSMB {
			rss[i] = fmt.Sprintf("%.0f", m)
		}
		fmt.Fprintf(w, "  nodes       %.2f CPU-s in all, %.3f CPU-ms per operation; RSS %s MB\n", s.NodeCPUS, s.NodeCPUMSPerOp, strings.Join(rss, ", "))
	}
	kinds := make([]string, 0, len(s.Kinds))
	for k := range s.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		ks := s.Kinds[k]
		fmt.Fprintf(w, "  %-10s  %d ok, %.1f/s, p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", k, ks.Ops, ks.Throughput, ks.LatencyMS.P50, ks.LatencyMS.P99, ks.LatencyMS.Max)
	}
	if len(s.ErrorsByCode) > 0 {
		codes := make([]string, 0, len(s.ErrorsByCode))
		for c := range s.ErrorsByCode {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		fmt.Fprintf(w, "  errors     ")
		for _, c := range codes {
			fmt.Fprintf(w, " %s: %d;", c, s.ErrorsByCode[c])
		}
		fmt.Fprintln(w)
	}
}

// writeJSON prints the summary as one JSON line.
func (s benchSummary) writeJSON(w io.Writer) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// benchProgress prints a progress line: on a terminal one line rewritten
// in place, elsewhere (a pipe, a CI log) one plain line each time.
type benchProgress struct {
	w        io.Writer
	terminal bool
	last     int64
	lastAt   time.Duration
	printed  bool
}

func newBenchProgress(w io.Writer) *benchProgress {
	p := &benchProgress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *benchProgress) line(elapsed time.Duration, done, failed int64) {
	rate := float64(done-p.last) / (elapsed - p.lastAt).Seconds()
	p.last, p.lastAt = done, elapsed
	text := fmt.Sprintf("%6.1fs  %d ok  %d failed  %.0f/s now  %.0f/s overall", elapsed.Seconds(), done, failed, rate, float64(done)/elapsed.Seconds())
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", text)
	} else {
		fmt.Fprintln(p.w, text)
	}
	p.printed = true
}

// end finishes a rewritten line before the summary follows.
func (p *benchProgress) end() {
	if p.terminal && p.printed {
		fmt.Fprintln(p.w)
	}
}
