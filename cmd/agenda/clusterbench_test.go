package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks on a three-node multi-process cluster (see
// cluster_harness_test.go), nodes advertising their own ports: the fault
// proxies stay out of the way. Every benchmark starts its own cluster for
// each run of b.N, so pass -benchtime Nx to avoid a throw-away first run.
// The failover benchmarks run a fixed number of rounds whatever b.N is and
// report their figures as metrics; give them -benchtime 1x, or they run
// twice:
//
//	go test ./cmd/agenda -run '^$' -bench 'ClusterCreate' -benchtime 3000x
//	go test ./cmd/agenda -run '^$' -bench 'ClusterLeader' -benchtime 1x

// benchTransport is shared by the benchmark clients: enough connections for
// 64 concurrent clients on three nodes.
func benchTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}
}

// startBenchCluster starts a direct three-node cluster and waits for it.
func startBenchCluster(b *testing.B) (*testCluster, *clusterNode) {
	b.Helper()
	tc := newDirectCluster(b, 3)
	tc.start()
	return tc, tc.waitStable(clusterTimeout, nil, false)
}

// BenchmarkClusterCreate64 creates personal appointments with 64 concurrent
// clients, each its own user, spread evenly over the three nodes (so two
// thirds of the writes are forwarded by a follower to the leader).
func BenchmarkClusterCreate64(b *testing.B) {
	tc, _ := startBenchCluster(b)
	const clients = 64
	hc := &http.Client{Timeout: 30 * time.Second, Transport: benchTransport()}
	users := make([]*client, clients)
	for i := range users {
		users[i] = tc.registerOn(tc.nodes[i%3], fmt.Sprintf("cbench%02d", i))
		users[i].http = hc
	}
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var lat latencies
	b.ResetTimer()
	start := time.Now()
	cpu0 := tc.nodesCPU()
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func(u *client) {
			defer wg.Done()
			slot := 0
			for next.Add(1) <= int64(b.N) {
				slot++
				t0 := time.Now()
				r, w, err := tryCreateSlot(u, slot)
				lat.add(time.Since(t0))
				if w == nil {
					failed.Add(1)
					if err == nil {
						err = fmt.Errorf("status %d: %s", r.Status, r.Body)
					}
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}(u)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := tc.nodesCPU() - cpu0
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d writes failed; first: %v", f, b.N, firstErr.Load())
	}
	lat.report(b, elapsed)
	reportNodesCPU(b, cpu, b.N)
}

// nodesCPU is the user and system CPU time the running node processes have
// used so far (0 where /proc cannot tell): the cost of the writes on a
// shared machine, the benchmark's clients excluded.
func (tc *testCluster) nodesCPU() time.Duration {
	var total time.Duration
	for _, n := range tc.nodes {
		n.mu.Lock()
		cmd := n.cmd
		n.mu.Unlock()
		if cmd == nil || cmd.Process == nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces, so split
		// after its closing parenthesis): utime and stime are the 14th and
		// 15th fields of the line, in clock ticks (100 a second on Linux).
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}

// reportNodesCPU reports the nodes' CPU time per write.
func reportNodesCPU(b *testing.B, cpu time.Duration, writes int) {
	if cpu > 0 && writes > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(writes), "nodes-cpu-µs/req")
	}
}

// BenchmarkClusterCreateSequential is one client writing one appointment at
// a time, on the leader and on a follower (forwarded): the latency of a
// replicated commit, as commands per second.
func BenchmarkClusterCreateSequential(b *testing.B) {
	for _, on := range []string{"leader", "follower"} {
		b.Run(on, func(b *testing.B) {
			tc, leader := startBenchCluster(b)
			n := leader
			if on == "follower" {
				n = followersOf(tc.nodes, leader)[0]
			}
			u := tc.registerOn(n, "cbenchseq")
			var lat latencies
			b.ResetTimer()
			start := time.Now()
			cpu0 := tc.nodesCPU()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				r, w, err := tryCreateSlot(u, i+1)
				if w == nil {
					b.Fatalf("write %d: %v %v", i, r, err)
				}
				lat.add(time.Since(t0))
			}
			elapsed := time.Since(start)
			cpu := tc.nodesCPU() - cpu0
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commands/s")
			reportNodesCPU(b, cpu, b.N)
			sort.Slice(lat.d, func(i, j int) bool { return lat.d[i] < lat.d[j] })
			b.ReportMetric(millis(lat.d[len(lat.d)/2]), "p50-ms")
			b.ReportMetric(millis(lat.d[int(0.99*float64(len(lat.d)-1))]), "p99-ms")
		})
	}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// median returns the median of ds (which it sorts).
func medianDuration(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// writeAttempt is one write of a writeLoop.
type writeAttempt struct {
	start, end time.Time
	ok         bool
	outcome    string // status and error code, or the transport error
}

// writeLoop writes appointments for u, one at a time, until stopped,
// recording every writeAttempt.
type writeLoop struct {
	mu       sync.Mutex
	attempts []writeAttempt
	slot     atomic.Int64
	stop     chan struct{}
	done     chan struct{}
}

func startWriteLoop(u *client, firstSlot int64) *writeLoop {
	wl := &writeLoop{stop: make(chan struct{}), done: make(chan struct{})}
	wl.slot.Store(firstSlot)
	c := *u
	c.http = &http.Client{Timeout: 2 * time.Second}
	go func() {
		defer close(wl.done)
		for {
			select {
			case <-wl.stop:
				return
			default:
			}
			a := writeAttempt{start: time.Now()}
			r, w, err := tryCreateSlot(&c, int(wl.slot.Add(1)))
			a.end, a.ok = time.Now(), w != nil
			switch {
			case err != nil:
				a.outcome = err.Error()
			default:
				a.outcome = fmt.Sprintf("%d %s", r.Status, r.ErrorCode())
			}
			wl.mu.Lock()
			wl.attempts = append(wl.attempts, a)
			wl.mu.Unlock()
			if !a.ok {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return wl
}

// firstOKAfter returns the first acknowledged write sent after t.
func (wl *writeLoop) firstOKAfter(t time.Time) (writeAttempt, bool) {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	for _, a := range wl.attempts {
		if a.ok && !a.start.Before(t) {
			return a, true
		}
	}
	return writeAttempt{}, false
}

// snapshot returns the attempts so far.
func (wl *writeLoop) snapshot() []writeAttempt {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	return slices.Clone(wl.attempts)
}

// end stops the loop and returns its attempts.
func (wl *writeLoop) end() []writeAttempt {
	close(wl.stop)
	<-wl.done
	wl.mu.Lock()
	defer wl.mu.Unlock()
	return wl.attempts
}

// maxGap returns the longest time between consecutive acknowledgements
// in [from, to], counting from from and up to to, and the attempts that
// ended in that gap (the slow or failed ones behind it).
func maxGap(attempts []writeAttempt, from, to time.Time) (time.Duration, []writeAttempt) {
	prev := from
	var gap time.Duration
	var gapEnd time.Time = to
	for _, a := range attempts {
		if !a.ok || a.end.Before(from) || a.end.After(to) {
			continue
		}
		if d := a.end.Sub(prev); d > gap {
			gap, gapEnd = d, a.end
		}
		prev = a.end
	}
	if d := to.Sub(prev); d > gap {
		gap, gapEnd = d, to
	}
	var in []writeAttempt
	for _, a := range attempts {
		if !a.end.Before(gapEnd.Add(-gap)) && !a.end.After(gapEnd) {
			in = append(in, a)
		}
	}
	return gap, in
}

// describe summarises attempts for a log line.
func describeAttempts(as []writeAttempt, since time.Time) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("[+%v..+%v %s]", a.start.Sub(since).Round(time.Millisecond), a.end.Sub(since).Round(time.Millisecond), a.outcome))
	}
	return strings.Join(parts, " ")
}

// failoverRounds is how many times the failover benchmarks stop the leader.
const failoverRounds = 5

// failoverRound is what one round of a failover benchmark measured.
type failoverRound struct {
	leader, via string
	// toFirst is from the signal to the acknowledgement of the first write
	// sent after it.
	toFirst time.Duration
	// gap is the longest gap between acknowledged writes from 1 s before
	// the signal to 2 s after it; behind it, the attempts that ended in it.
	gap    time.Duration
	behind []writeAttempt
	// rejoinGap is the longest gap in the 3 s after the stopped node was
	// started again (a rejoining node should not disturb writes).
	rejoinGap    time.Duration
	rejoinBehind []writeAttempt
}

// benchFailover runs failoverRounds rounds of: wait for a stable cluster,
// write in a loop through a follower, stop the leader with stopLeader, keep
// writing for 2 s, restart the old leader, keep writing for 3 s.
func benchFailover(b *testing.B, username string, stopLeader func(*clusterNode)) []failoverRound {
	tc, leader := startBenchCluster(b)
	u := tc.registerOn(followersOf(tc.nodes, leader)[0], username)
	var rounds []failoverRound
	for round := 0; round < failoverRounds; round++ {
		leader = tc.waitStable(clusterTimeout, tc.nodes, false)
		via := followersOf(tc.nodes, leader)[0]
		wl := startWriteLoop(u.as(via), int64(round)*100_000)
		time.Sleep(time.Second)
		signalled := time.Now()
		stopLeader(leader)
		tc.eventually(clusterTimeout, "a write after the leader stopped", func() string {
			if _, ok := wl.firstOKAfter(signalled); !ok {
				return "none yet"
			}
			return ""
		})
		first, _ := wl.firstOKAfter(signalled)
		time.Sleep(time.Until(signalled.Add(2 * time.Second)))
		r := failoverRound{leader: leader.id, via: via.id, toFirst: first.end.Sub(signalled)}
		r.gap, r.behind = maxGap(wl.snapshot(), signalled.Add(-time.Second), signalled.Add(2*time.Second))

		restarted := time.Now()
		leader.start()
		time.Sleep(3 * time.Second)
		r.rejoinGap, r.rejoinBehind = maxGap(wl.end(), restarted, restarted.Add(3*time.Second))
		b.Logf("round %d: leader %s stopped; writes through %s: first acknowledged after %v, longest gap %v (attempts in it: %s); after its restart, longest gap %v (attempts in it: %s)",
			round, r.leader, r.via, r.toFirst.Round(time.Millisecond), r.gap.Round(time.Millisecond), describeAttempts(r.behind, signalled),
			r.rejoinGap.Round(time.Millisecond), describeAttempts(r.rejoinBehind, restarted))
		rounds = append(rounds, r)
	}
	return rounds
}

// reportFailover reports the median and worst of a figure over the rounds.
func reportFailover(b *testing.B, rounds []failoverRound, name string, f func(failoverRound) time.Duration) {
	var ds []time.Duration
	for _, r := range rounds {
		ds = append(ds, f(r))
	}
	b.ReportMetric(millis(medianDuration(ds)), "median-"+name+"-ms")
	b.ReportMetric(millis(slices.Max(ds)), "max-"+name+"-ms")
}

// BenchmarkClusterLeaderKill measures how long writes stop when the leader
// is SIGKILLed: from the kill to the first write acknowledged by a
// survivor (median and worst of five rounds; a client loop writes through
// a follower throughout). It also reports the longest write gap while the
// killed node rejoins.
func BenchmarkClusterLeaderKill(b *testing.B) {
	rounds := benchFailover(b, "cbenchkill", (*clusterNode).kill)
	reportFailover(b, rounds, "to-first-write", func(r failoverRound) time.Duration { return r.toFirst })
	reportFailover(b, rounds, "rejoin-gap", func(r failoverRound) time.Duration { return r.rejoinGap })
}

// BenchmarkClusterLeaderStop measures the write pause when the leader is
// stopped cleanly (SIGTERM: it hands leadership over first): the longest
// gap between acknowledged writes of a client loop writing through a
// follower, from 1 s before the signal to 2 s after it (median and worst
// of five rounds), and the longest gap while the node rejoins.
func BenchmarkClusterLeaderStop(b *testing.B) {
	rounds := benchFailover(b, "cbenchstop", (*clusterNode).stop)
	reportFailover(b, rounds, "write-gap", func(r failoverRound) time.Duration { return r.gap })
	reportFailover(b, rounds, "rejoin-gap", func(r failoverRound) time.Duration { return r.rejoinGap })
}
