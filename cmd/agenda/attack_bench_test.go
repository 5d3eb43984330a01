//go:build linux

package main

// Measurements of the attacks of issue 9 (findings 3, 5 and 6) against
// real node processes, after the fixes. They are benchmarks, not tests:
// they report figures and fail only if the harness itself breaks. Run each
// once:
//
//	go test ./cmd/agenda -run '^$' -bench 'Attack' -benchtime 1x -timeout 20m
//
// AGENDA_FLOOD_WORKERS sets the Raft flood's connecting goroutines
// (default 96).

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	agendahttp "github.com/agendahq/agenda/http"
)

// pid is the node's current process ID.
func (n *clusterNode) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// procStatusKB reads a field (VmRSS, VmHWM) of /proc/<pid>/status, in kB.
func procStatusKB(tb testing.TB, pid int, field string) int {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// openFDs counts the process's open file descriptors.
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// logLines counts the lines of the node's log.
func (n *clusterNode) logLines() int { return n.logCount("") }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Finding 3: 160 concurrent unsigned 8 MiB POSTs to /internal/propose took
// one node to 2.35 GB RSS. Reports the node's peak RSS after b.N rounds.
func BenchmarkAttackUnsignedInternal8MiB(b *testing.B) {
	tc := newDirectCluster(b, 1)
	tc.start()
	tc.waitStable(clusterTimeout, nil, false)
	n := tc.nodes[0]
	pid := n.pid()
	base := procStatusKB(b, pid, "VmRSS")
	const concurrent, size = 160, 8 << 20
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}}
	var mu sync.Mutex
	outcomes := map[string]int{}
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", "http://"+n.httpAddr+"/internal/propose", io.LimitReader(zeros{}, size))
				req.ContentLength = size
				req.Header.Set("Content-Type", "application/json")
				out := "transport error"
				if resp, err := hc.Do(req); err == nil {
					out = strconv.Itoa(resp.StatusCode)
					resp.Body.Close()
				}
				mu.Lock()
				outcomes[out]++
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	peak := procStatusKB(b, pid, "VmHWM")
	b.ReportMetric(float64(base)/1024, "base-RSS-MB")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
	b.Logf("%d rounds of %d unsigned %d MiB POSTs: outcomes %v; RSS %d MB before, peak %d MB", b.N, concurrent, size>>20, outcomes, base/1024, peak/1024)
}

// junkFlood hammers addrs with connections that send junk (three workers
// in four) or nothing (the fourth, holding handshake slots),
// from random source addresses (127.0.1.x: hosts that are not peers) or
// from 127.0.0.1 (the peers' own host), until stop is closed.
func junkFlood(addrs []string, workers int, fromPeerHost bool, stop <-chan struct{}) *atomic.Int64 {
	var conns atomic.Int64
	for w := range workers {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				d := net.Dialer{Timeout: time.Second}
				if !fromPeerHost {
					d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+rand.IntN(250)))}
				}
				c, err := d.Dial("tcp", addrs[(w+i)%len(addrs)])
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				conns.Add(1)
				if w%4 == 0 {
					// A silent one, held until the node drops it: it holds
					// a handshake slot until the deadline.
					c.SetDeadline(time.Now().Add(3 * time.Second))
					io.Copy(io.Discard, c)
				} else {
					// Junk, as fast as the node takes it.
					c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				}
				c.Close()
			}
		}()
	}
	return &conns
}

// Finding 5: refused Raft connections wrote 87k–120k log lines per node in
// 40 s, and junk holding every handshake slot made a new leader step down
// during a failover. Floods every Raft port for 40 s, kills the leader
// after 10 s, and reports the log lines each survivor wrote during the
// flood, the failover time, and how many further elections followed.
func BenchmarkAttackRaftFloodFailover(b *testing.B) {
	for _, from := range []string{"other-hosts", "peer-host"} {
		b.Run(from, func(b *testing.B) {
			for range b.N {
				raftFloodFailover(b, from == "peer-host")
			}
		})
	}
}

func raftFloodFailover(b *testing.B, fromPeerHost bool) {
	tc := newDirectCluster(b, 3)
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	st, err := leader.status()
	if err != nil {
		b.Fatal(err)
	}
	oldTerm := st.Term
	survivors := followersOf(tc.nodes, leader)
	before := map[string]int{}
	for _, n := range tc.nodes {
		before[n.id] = n.logLines()
	}
	var addrs []string
	for _, n := range tc.nodes {
		addrs = append(addrs, n.raftAddr)
	}
	stop := make(chan struct{})
	start := time.Now()
	workers := 96
	if v, err := strconv.Atoi(os.Getenv("AGENDA_FLOOD_WORKERS")); err == nil && v > 0 {
		workers = v // lighter floods, to tell CPU starvation from slot starvation
	}
	conns := junkFlood(addrs, workers, fromPeerHost, stop)
	time.Sleep(10 * time.Second)

	killed := time.Now()
	leader.kill()
	var failover time.Duration
	terms := map[uint64]bool{}
	leaders := map[string]bool{}
	for time.Since(start) < 40*time.Second {
		var ids []string
		for _, n := range survivors {
			s, err := n.status()
			if err != nil || s.LeaderID == "" || s.LeaderID == leader.id || s.Term <= oldTerm {
				continue
			}
			terms[s.Term] = true
			leaders[s.LeaderID] = true
			ids = append(ids, s.LeaderID)
		}
		if failover == 0 && len(ids) == len(survivors) && ids[0] == ids[1] {
			failover = time.Since(killed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	b.StopTimer()
	lines := 0
	for _, n := range survivors {
		l := n.logLines() - before[n.id]
		lines = max(lines, l)
		b.Logf("%s wrote %d log lines in the 40 s flood (%d of them refusal audits)", n.id, l, n.logCount("raft connection refused"))
	}
	b.ReportMetric(float64(lines), "max-log-lines/node")
	b.ReportMetric(float64(failover.Milliseconds()), "failover-ms")
	b.ReportMetric(float64(max(0, len(terms)-1)), "extra-elections")
	b.Logf("flood of %d connections over 40 s from %s; failover %v (0: no agreed leader); terms after the kill %v, leaders %v",
		conns.Load(), map[bool]string{true: "the peers' host", false: "other hosts"}[fromPeerHost], failover, terms, leaders)
}

// Finding 6: ~20,000 idle connections exhausted a node's file descriptors
// and its outbound gossip failed with "too many open files". Opens 12,000
// idle connections to a follower from 12 addresses and reports its open
// descriptors at the peak, and whether its own outbound traffic (gossip to
// the other follower, Raft with the leader) kept working.
func BenchmarkAttackIdleConnections(b *testing.B) {
	tc := newDirectCluster(b, 3)
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	fs := followersOf(tc.nodes, leader)
	target, witness := fs[0], fs[1]
	pid := target.pid()
	baseFDs := openFDs(pid)
	const total, perAddr = 12000, 1000
	var conns []net.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	b.ResetTimer()
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, byte(1+i/perAddr))}}
			c, err := d.Dial("tcp", target.httpAddr)
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	peakFDs, worstGossip := 0, time.Duration(0)
	raftOK := true
	for range 20 { // 10 s, past the 5 s header timeout
		peakFDs = max(peakFDs, openFDs(pid))
		if s, err := witness.status(); err == nil {
			for _, n := range s.Nodes {
				if n.ID == target.id && n.LastSeen != nil {
					worstGossip = max(worstGossip, time.Since(*n.LastSeen))
				}
			}
		}
		if s, err := leader.status(); err == nil {
			for _, n := range s.Nodes {
				if n.ID == target.id && (n.LastSeen == nil || time.Since(*n.LastSeen) > 2*time.Second) {
					raftOK = false
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.StopTimer()
	for _, c := range conns {
		c.Close()
	}
	// Afterwards the node serves again at once.
	ana := tc.registerOn(target, "after")
	mustCreateSlot(b, ana, 1)
	b.ReportMetric(float64(len(conns)), "conns-opened")
	b.ReportMetric(float64(peakFDs), "peak-fds")
	b.ReportMetric(float64(worstGossip.Milliseconds()), "worst-gossip-age-ms")
	b.Logf("%d idle connections opened (%d per address); the node held %d descriptors at most (%d before); its gossip was at most %v old at the other follower; Raft with the leader kept up: %v",
		len(conns), perAddr, peakFDs, baseFDs, worstGossip, raftOK)
}

// Finding 4: 16 parallel wrong-password logins (bcrypt ~80 ms each) took
// the median GET /api/me from 0.5 to 174 ms. Measures GET /api/me while 16
// goroutines guess passwords, with production bcrypt cost: with the default
// limits, and with the rate limits off so that only the bound on
// concurrent hashing (AUTH_CONCURRENCY) protects the other requests.
func BenchmarkAttackLoginFlood(b *testing.B) {
	for _, mode := range []string{"default-limits", "hash-bound-only"} {
		b.Run(mode, func(b *testing.B) {
			cfg := testConfig(b, b.TempDir())
			cfg.BcryptCost = 0 // the library default, as in production
			cfg.Limits = agendahttp.DefaultLimits(runtime.NumCPU())
			if mode == "hash-bound-only" {
				cfg.Limits.LoginPerUser, cfg.Limits.LoginPerAddr = agendahttp.Rate{}, agendahttp.Rate{}
			}
			n := startNode(b, cfg)
			me := registerUser(b, n, "ana")
			registerUser(b, n, "victim")
			stop := make(chan struct{})
			var guesses, limited atomic.Int64
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := newClient(b, n)
					for {
						select {
						case <-stop:
							return
						default:
						}
						r, err := c.send("POST", "/api/auth/login", map[string]any{"username": "victim", "password": "guess-password"})
						if err == nil {
							guesses.Add(1)
							if r.Status == http.StatusTooManyRequests {
								limited.Add(1)
							}
						}
					}
				}()
			}
			time.Sleep(time.Second)
			var lat latencies
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				me.do("GET", "/api/me", nil).expect(b, http.StatusOK)
				lat.add(time.Since(t0))
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			sort.Slice(lat.d, func(i, j int) bool { return lat.d[i] < lat.d[j] })
			b.ReportMetric(millis(lat.d[len(lat.d)/2]), "me-p50-ms")
			b.ReportMetric(millis(lat.d[int(0.99*float64(len(lat.d)-1))]), "me-p99-ms")
			b.Logf("%s: %d guesses during the run, %d of them answered 429", mode, guesses.Load(), limited.Load())
		})
	}
}
