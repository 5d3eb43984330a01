package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Benchmarks of the live stream and the feed (issue 10):
//
//	go test ./cmd/agenda -run '^$' -bench 'LiveFanout1000' -benchtime 20x
//	go test ./cmd/agenda -run '^$' -bench 'EventsPage500' -benchtime 2000x

// BenchmarkLiveFanout1000 runs one node in its own process with 1,000
// WebSocket subscribers, each a member of one group with the writer. Each
// iteration the writer books an appointment; every subscriber receives the
// busy block it causes. It reports the time from the write's acknowledgement
// to each subscriber's frame (p50/p99/max; a frame that beats the
// acknowledgement counts as 0), and the node's memory per idle subscriber
// (Go heap + stacks, and resident set, from its /metrics). Targets: p99 <
// 500 ms; < 64 KiB per idle subscriber.
func BenchmarkLiveFanout1000(b *testing.B) {
	subscribers := 1000
	if v, err := strconv.Atoi(os.Getenv("AGENDA_BENCH_SUBSCRIBERS")); err == nil && v > 0 {
		subscribers = v // for a quicker look
	}
	tc := newDirectCluster(b, 1)
	// Every subscriber is one more connection from this one address.
	tc.nodes[0].env["HTTP_MAX_CONNS_PER_ADDR"] = strconv.Itoa(subscribers + 512)
	// A thousand people register and log in from this one address.
	tc.nodes[0].env["RATE_LIMIT_REGISTER_ADDR"] = "off"
	tc.nodes[0].env["RATE_LIMIT_LOGIN_ADDR"] = "off"
	tc.start()
	node := tc.waitStable(clusterTimeout, nil, false)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: benchTransport()}
	writer := tc.registerOn(node, "fanout-writer")
	writer.http = hc
	gid := createGroupOn(b, writer, "Everyone")
	users := make([]*client, subscribers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range users {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			users[i] = tc.registerOn(node, fmt.Sprintf("fan%04d", i))
			users[i].http = hc
		}(i)
	}
	wg.Wait()
	for _, u := range users { // one group stream: sequential
		joinGroupOn(b, writer, u, gid)
	}

	before := nodeMemory(b, node)
	conns := make([]*websocket.Conn, subscribers)
	for i, u := range users {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, _, err := websocket.Dial(ctx, "ws://"+node.httpAddr+"/api/ws?access_token="+u.token, nil)
		cancel()
		if err != nil {
			b.Fatalf("subscriber %d: %v", i, err)
		}
		c.SetReadLimit(1 << 20)
		conns[i] = c
		defer c.CloseNow()
	}
	// Every subscriber is registered once it has its caught_up frame.
	recv := make([]chan int64, subscribers)
	times := make([]map[int64]time.Time, subscribers)
	var mu sync.Mutex
	var ready sync.WaitGroup
	for i, c := range conns {
		recv[i] = make(chan int64, 64)
		times[i] = map[int64]time.Time{}
		ready.Add(1)
		go func(i int, c *websocket.Conn) {
			caught := false
			for {
				_, data, err := c.Read(context.Background())
				if err != nil {
					if !caught {
						ready.Done()
					}
					return
				}
				at := time.Now()
				s := string(data)
				if strings.Contains(s, `"type":"caught_up"`) {
					caught = true
					ready.Done()
					continue
				}
				pos := framePosition(s)
				mu.Lock()
				times[i][pos] = at
				mu.Unlock()
				recv[i] <- pos
			}
		}(i, c)
	}
	ready.Wait()
	time.Sleep(2 * time.Second) // let the node settle before measuring memory
	after := nodeMemory(b, node)

	var lat latencies
	b.ResetTimer()
	start := time.Now()
	day := time.Date(2032, 1, 1, 8, 0, 0, 0, time.UTC)
	for n := 0; n < b.N; n++ {
		s := day.Add(time.Duration(n) * 2 * time.Hour)
		body := map[string]any{"title": "all hands", "start": s.Format(time.RFC3339), "end": s.Add(time.Hour).Format(time.RFC3339)}
		r, err := writer.send("POST", "/api/appointments", body)
		if err != nil || r.Status != http.StatusCreated {
			b.Fatalf("write %d: %v %v", n, err, r)
		}
		ack := time.Now()
		pos := positionOf(b, r)
		deadline := time.After(30 * time.Second)
		for i := range recv {
			for got := false; !got; {
				select {
				case p := <-recv[i]:
					got = p >= pos
				case <-deadline:
					b.Fatalf("subscriber %d did not receive position %d in 30 s", i, pos)
				}
			}
			mu.Lock()
			d := times[i][pos].Sub(ack)
			mu.Unlock()
			lat.add(max(d, 0))
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	lat.report(b, elapsed)
	// ResetTimer drops metrics reported before it.
	b.ReportMetric((after.heap-before.heap)/float64(subscribers)/1024, "KiB-heap+stack/sub")
	b.ReportMetric((after.rss-before.rss)/float64(subscribers)/1024, "KiB-rss/sub")
	b.ReportMetric((after.goroutines-before.goroutines)/float64(subscribers), "goroutines/sub")
}

func framePosition(s string) int64 {
	_, rest, _ := strings.Cut(s, `"position":`)
	end := strings.IndexAny(rest, ",}")
	p, _ := strconv.ParseInt(rest[:max(end, 0)], 10, 64)
	return p
}

type memFigures struct{ heap, rss, goroutines float64 }

// nodeMemory reads a node's memory figures from its /metrics.
func nodeMemory(b *testing.B, n *clusterNode) memFigures {
	b.Helper()
	resp, err := http.Get("http://" + n.httpAddr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var m memFigures
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch name {
		case "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes":
			m.heap += v
		case "process_resident_memory_bytes":
			m.rss = v
		case "go_goroutines":
			m.goroutines = v
		}
	}
	return m
}

func createGroupOn(b *testing.B, c *client, name string) string {
	b.Helper()
	r, err := c.send("POST", "/api/groups", map[string]any{"name": name, "hierarchical": false})
	if err != nil || r.Status != http.StatusCreated {
		b.Fatalf("create group: %v %v", err, r)
	}
	var g struct {
		ID string `json:"id"`
	}
	r.JSON(b, &g)
	return g.ID
}

// joinGroupOn adds who to a flat group (accepting, if adding only invites).
func joinGroupOn(b *testing.B, adder, who *client, gid string) {
	b.Helper()
	r, err := adder.send("POST", "/api/groups/"+gid+"/members", map[string]any{"user_id": who.userID})
	if err != nil || r.Status != http.StatusCreated {
		b.Fatalf("add member: %v %v", err, r)
	}
	if strings.Contains(string(r.Body), `"status":"invited"`) {
		if r, err := who.send("POST", "/api/groups/"+gid+"/accept", nil); err != nil || r.Status != http.StatusOK {
			b.Fatalf("accept: %v %v", err, r)
		}
	}
}

// BenchmarkEventsPage500 reads pages of 500 feed entries from random
// positions of a feed of 200,000 entries (the node of BenchmarkAgendaWeek:
// 100,000 appointments, 200,000 events). Target: p99 < 20 ms.
func BenchmarkEventsPage500(b *testing.B) {
	n, u, _ := seededAgendaNode(b)
	hc := benchClient(n)
	top := n.rm.Position()
	var lat latencies
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		after := rand.Int64N(max(top-1000, 1))
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/events?after=%d&limit=500", u.base, after), nil)
		req.Header.Set("Authorization", "Bearer "+u.token)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var page struct {
			Events []struct {
				Position int64 `json:"position"`
			} `json:"events"`
		}
		err = decodeInto(resp, &page)
		resp.Body.Close()
		lat.add(time.Since(t0))
		if err != nil || resp.StatusCode != http.StatusOK || len(page.Events) != 500 {
			b.Fatalf("status %d, %d entries (want 500): %v", resp.StatusCode, len(page.Events), err)
		}
	}
	lat.report(b, time.Since(start))
}
