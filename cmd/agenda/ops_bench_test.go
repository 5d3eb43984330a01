package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAuditOverhead measures what the audit trail costs command
// throughput: appointment creation by 32 concurrent clients on one node
// with and without the request audit, in alternating rounds (so that the
// load others put on the machine hits both alike). Target: < 5 %.
func BenchmarkAuditOverhead(b *testing.B) {
	const clients, rounds = 32, 3
	type side struct {
		name string
		n    *Node
		us   []*client
		rate []float64
		cpu  []float64 // process CPU-µs per request (the other node idles)
		slot atomic.Int64
	}
	var sides []*side
	for _, off := range []bool{false, true} {
		cfg := testConfig(b, b.TempDir())
		cfg.noHTTPAudit = off
		n := startNode(b, cfg)
		s := &side{name: map[bool]string{false: "audit", true: "no-audit"}[off], n: n}
		for i := 0; i < clients; i++ {
			s.us = append(s.us, registerUser(b, n, fmt.Sprintf("bench%02d", i)))
		}
		sides = append(sides, s)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	base := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	per := max(b.N/rounds, clients)
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		for _, s := range sides {
			var next, failed atomic.Int64
			var wg sync.WaitGroup
			began, cpu0 := time.Now(), processCPU()
			for _, u := range s.us {
				wg.Add(1)
				go func(u *client) {
					defer wg.Done()
					for next.Add(1) <= int64(per) {
						st := base.Add(time.Duration(s.slot.Add(1)) * time.Hour)
						body := fmt.Sprintf(`{"title":"bench","start":%q,"end":%q}`, st.Format(time.RFC3339), st.Add(30*time.Minute).Format(time.RFC3339))
						req, _ := http.NewRequest("POST", u.base+"/api/appointments", strings.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("Authorization", "Bearer "+u.token)
						resp, err := hc.Do(req)
						if err != nil || resp.StatusCode != http.StatusCreated {
							failed.Add(1)
						}
						if err == nil {
							resp.Body.Close()
						}
					}
				}(u)
			}
			wg.Wait()
			if f := failed.Load(); f > 0 {
				b.Fatalf("%s: %d requests failed", s.name, f)
			}
			s.rate = append(s.rate, float64(per)/time.Since(began).Seconds())
			s.cpu = append(s.cpu, float64((processCPU()-cpu0).Microseconds())/float64(per))
		}
	}
	b.StopTimer()
	mean := func(xs []float64) float64 {
		t := 0.0
		for _, x := range xs {
			t += x
		}
		return t / float64(len(xs))
	}
	on, off := mean(sides[0].rate), mean(sides[1].rate)
	b.ReportMetric(on, "audit-req/s")
	b.ReportMetric(off, "no-audit-req/s")
	b.ReportMetric(100*(off-on)/off, "overhead-%")
	cpuOn, cpuOff := mean(sides[0].cpu), mean(sides[1].cpu)
	b.ReportMetric(cpuOn, "audit-cpu-µs/req")
	b.ReportMetric(cpuOff, "no-audit-cpu-µs/req")
	b.ReportMetric(100*(cpuOn-cpuOff)/cpuOff, "cpu-overhead-%")
	b.Logf("rounds with audit %v, without %v (req/s)", sides[0].rate, sides[1].rate)
	b.Logf("rounds with audit %v, without %v (CPU-µs/req, clients included)", sides[0].cpu, sides[1].cpu)
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
