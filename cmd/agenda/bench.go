package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// benchOptions are the flags of `agenda bench`.
type benchOptions struct {
	Nodes       []string // base URLs, e.g. http://127.0.0.1:8080
	Scenario    string
	Concurrency int
	Count       int64         // operations in all (0: run for Duration)
	Duration    time.Duration // how long to run (0: run Count operations)
	Timeout     time.Duration // per request
	Prefix      string        // of every user name this run registers
	Seed        int           // appointments the read scenario stores first
	ReadPct     int           // share of reads in the mixed scenario
	Members     int           // members below the organiser, group scenario
	// CarryPosition: each writing client sends the position its last write
	// answered as X-Agenda-Min-Position, as API.md has a client do for
	// read-your-writes on any node. Requests go to the nodes in turn, so
	// without it a client's next write may be decided on a node that has
	// not applied its last one yet: refused there as a conflict (through
	// Raft, on every node) and decided again.
	CarryPosition bool
	Subscribers   int // WebSocket subscribers, ws scenario
	// MetricsToken is sent to the nodes' /metrics, where their CPU time
	// and memory are read (their METRICS_TOKEN, if they have one).
	MetricsToken string
	Progress     time.Duration // between progress lines
}

// benchScenarios lists the scenarios and what each measures, for -h and
// the error on an unknown name.
var benchScenarios = []struct{ name, what string }{
	{"create", "personal appointment creates; each client its own user, slots never overlap"},
	{"group", "appointments a superior imposes on the members of a hierarchical group (one group per client)"},
	{"read", "one-week agenda reads of one user with -seed appointments stored first (one an hour)"},
	{"mixed", "-read-pct % reads as in read, the rest creates as in create"},
	{"ws", "-subscribers WebSocket subscribers on /api/ws; a write's acknowledgement to its frame"},
}

// benchUsernamePrefix is what a -prefix must look like: user names are
// 3–32 characters of [a-z0-9_.-] and the tool appends up to 14 of its own.
var benchUsernamePrefix = regexp.MustCompile(`^[a-z0-9_.]{1,16}$`)

// parseBenchFlags parses and checks the flags of `agenda bench`; any error
// it returns is a usage error (exit code 2).
func parseBenchFlags(args []string, stderr io.Writer) (benchOptions, error) {
	o := benchOptions{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.String("nodes", "http://127.0.0.1:8080", "comma-separated node URLs (or host:port); requests are spread over all of them")
	fs.StringVar(&o.Scenario, "scenario", "create", "create, group, read, mixed or ws")
	fs.IntVar(&o.Concurrency, "c", 16, "concurrent clients")
	fs.Int64Var(&o.Count, "n", 0, "operations in all, then stop (excludes -d)")
	fs.DurationVar(&o.Duration, "d", 0, "run for this long, then stop (excludes -n; default 10s when -n is not given)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "give up on one request after this long")
	fs.StringVar(&o.Prefix, "prefix", "", "prefix of the user names this run registers, [a-z0-9_.] up to 16 (default: random, so runs can repeat on one cluster; a prefix given again reuses its users and their agendas)")
	fs.IntVar(&o.Seed, "seed", 2000, "read and mixed scenarios: appointments stored for the reader before measuring")
	fs.IntVar(&o.ReadPct, "read-pct", 80, "mixed scenario: percentage of operations that are reads")
	fs.IntVar(&o.Members, "members", 5, "group scenario: members of each client's group below its organiser")
	fs.StringVar(&o.MetricsToken, "metrics-token", os.Getenv("METRICS_TOKEN"), "bearer token for the nodes' /metrics, where their CPU time and memory are read (default: $METRICS_TOKEN; without the right one the report leaves those figures out)")
	fs.BoolVar(&o.CarryPosition, "carry-position", true, "create, group and mixed: each client sends the position its last write answered (X-Agenda-Min-Position), so that its next write, on whichever node, is decided on a state that holds it; false measures clients that do not, whose writes on a node still behind are refused as conflicts and decided again")
	fs.IntVar(&o.Subscribers, "subscribers", 100, "ws scenario: WebSocket subscribers (each its own user; at least -c)")
	fs.DurationVar(&o.Progress, "progress", time.Second, "time between progress lines on stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: agenda bench [-nodes url,...] [-scenario name] [-c clients] [-n count | -d duration] [flags]\n\n"+
			"Drives the public HTTP API of running nodes and reports throughput and latency:\n"+
			"progress on stderr every second, a summary on stderr, one JSON line on stdout.\n\nscenarios:")
		for _, s := range benchScenarios {
			fmt.Fprintf(fs.Output(), "  %-7s %s\n", s.name, s.what)
		}
		fmt.Fprintln(fs.Output(), "\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q (flags only)", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	if o.Nodes, err = parseBenchNodes(*nodes); err != nil {
		return o, err
	}
	known := false
	for _, s := range benchScenarios {
		known = known || s.name == o.Scenario
	}
	switch {
	case !known:
		return o, fmt.Errorf("-scenario %q: want create, group, read, mixed or ws", o.Scenario)
	case o.Concurrency < 1 || o.Concurrency > 10000:
		return o, fmt.Errorf("-c %d: want 1 to 10000 clients", o.Concurrency)
	case given["n"] && given["d"]:
		return o, errors.New("-n and -d exclude each other: give a count or a duration")
	case given["n"] && o.Count < 1:
		return o, fmt.Errorf("-n %d: want at least 1 operation", o.Count)
	case given["d"] && o.Duration <= 0:
		return o, fmt.Errorf("-d %s: want a positive duration", o.Duration)
	case o.Timeout <= 0:
		return o, fmt.Errorf("-timeout %s: want a positive duration", o.Timeout)
	case o.Progress <= 0:
		return o, fmt.Errorf("-progress %s: want a positive duration", o.Progress)
	case o.Prefix != "" && !benchUsernamePrefix.MatchString(o.Prefix):
		return o, fmt.Errorf("-prefix %q: want 1 to 16 characters of [a-z0-9_.]", o.Prefix)
	case o.Seed < 1 || o.Seed > 1_000_000:
		return o, fmt.Errorf("-seed %d: want 1 to 1000000 appointments", o.Seed)
	case o.ReadPct < 0 || o.ReadPct > 100:
		return o, fmt.Errorf("-read-pct %d: want 0 to 100", o.ReadPct)
	case o.Members < 1 || o.Members > 500:
		return o, fmt.Errorf("-members %d: want 1 to 500", o.Members)
	case o.Subscribers < 1 || o.Subscribers > 100000:
		return o, fmt.Errorf("-subscribers %d: want 1 to 100000", o.Subscribers)
	case o.Scenario == "ws" && o.Subscribers < o.Concurrency:
		return o, fmt.Errorf("-subscribers %d below -c %d: each writer needs a subscriber of its own", o.Subscribers, o.Concurrency)
	}
	if !given["n"] && !given["d"] {
		o.Duration = 10 * time.Second
	}
	if o.Prefix == "" {
		b := make([]byte, 3)
		rand.Read(b)
		o.Prefix = "b" + hex.EncodeToString(b)
	}
	return o, nil
}

// parseBenchNodes turns "h:p,http://h2:p2" into base URLs.
func parseBenchNodes(s string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !strings.Contains(n, "://") {
			n = "http://" + n
		}
		u, err := url.Parse(n)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("-nodes: %q is not a node URL like http://127.0.0.1:8080", n)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(out) == 0 {
		return nil, errors.New("-nodes: give at least one node URL")
	}
	return out, nil
}

// benchCmd runs `agenda bench`: it prepares the scenario's users and data,
// drives the nodes until the count or duration is reached (or Ctrl-C), and
// reports.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	o, err := parseBenchFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitWith(2, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runBench(ctx, o, stdout, stderr)
}

// runBench is benchCmd after the flags: ctx ending (Ctrl-C) stops the run
// and still reports what was measured.
func runBench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) error {
	api := newBenchAPI(o.Nodes, o.Concurrency, o.Timeout, stderr)
	api.metricsToken = o.MetricsToken
	defer api.close()
	sc := newBenchScenario(o, api)
	defer sc.close()
	fmt.Fprintf(stderr, "bench: scenario %s, %d clients, %s, nodes %s, user prefix %s\n",
		o.Scenario, o.Concurrency, o.bound(), strings.Join(o.Nodes, ","), o.Prefix)
	setupStart := time.Now()
	if err := sc.setup(ctx, stderr); err != nil {
		if ctx.Err() != nil {
			return exitWith(130, errors.New("interrupted while preparing"))
		}
		return exitWith(1, fmt.Errorf("prepare %s: %w", o.Scenario, err))
	}
	setup := time.Since(setupStart)
	fmt.Fprintf(stderr, "bench: prepared in %.1fs\n", setup.Seconds())

	before := api.sampleNodes(ctx)
	res := driveBench(ctx, o, sc, stderr)
	after := api.sampleNodes(context.WithoutCancel(ctx))
	sum := summarize(o, res, sc.params())
	sum.addNodeFigures(before, after)
	sum.SetupS = round3(setup.Seconds())
	sum.writeHuman(stderr)
	if err := sum.writeJSON(stdout); err != nil {
		return err
	}
	switch {
	case sum.Interrupted:
		return exitWith(130, errors.New("interrupted"))
	case sum.Ops == 0:
		return exitWith(1, errors.New("no operation succeeded"))
	}
	return nil
}

// bound describes when the run stops.
func (o benchOptions) bound() string {
	if o.Count > 0 {
		return fmt.Sprintf("%d operations", o.Count)
	}
	return "for " + o.Duration.String()
}

// benchRun is what the clients measured.
type benchRun struct {
	elapsed     time.Duration
	interrupted bool
	recs        []*benchRecorder
}

// driveBench runs o.Concurrency clients until the count or duration is
// reached or ctx ends, printing progress every o.Progress.
func driveBench(ctx context.Context, o benchOptions, sc benchScenario, stderr io.Writer) benchRun {
	var (
		issued, done, failed atomic.Int64
		wg                   sync.WaitGroup
	)
	recs := make([]*benchRecorder, o.Concurrency)
	start := time.Now()
	deadline := start.Add(o.Duration)
	for w := range recs {
		recs[w] = newBenchRecorder()
		wg.Add(1)
		go func(w int, rec *benchRecorder) {
			defer wg.Done()
			for k := 0; ctx.Err() == nil; k++ {
				if o.Count > 0 {
					if issued.Add(1) > o.Count {
						return
					}
				} else if !time.Now().Before(deadline) {
					return
				}
				kind, lat, err := sc.op(ctx, w, k)
				if err != nil && ctx.Err() != nil {
					return // cut short by Ctrl-C: neither a success nor a failure
				}
				rec.add(kind, lat, err)
				if err != nil {
					failed.Add(1)
				} else {
					done.Add(1)
				}
			}
		}(w, recs[w])
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	p := newBenchProgress(stderr)
	tick := time.NewTicker(o.Progress)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			p.end()
			return benchRun{elapsed: time.Since(start), interrupted: ctx.Err() != nil, recs: recs}
		case now := <-tick.C:
			p.line(now.Sub(start), done.Load(), failed.Load())
		}
	}
}
