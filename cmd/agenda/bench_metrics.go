package main

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// benchNodeSample is what a node's /metrics said of its process: CPU
// seconds used so far and resident memory. CPU time per operation is the
// figure other load on a shared machine hardly distorts, where
// throughput it distorts a lot.
type benchNodeSample struct {
	cpuSeconds float64
	rssBytes   float64
	ok         bool
}

// sampleNodes reads every node's /metrics; a node that does not answer
// gives a sample that is not ok (the report then leaves the figures out).
func (a *benchAPI) sampleNodes(ctx context.Context) []benchNodeSample {
	out := make([]benchNodeSample, len(a.nodes))
	for i, n := range a.nodes {
		out[i] = a.sampleNode(ctx, n)
	}
	return out
}

func (a *benchAPI) sampleNode(ctx context.Context, node string) benchNodeSample {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", node+"/metrics", nil)
	if err != nil {
		return benchNodeSample{}
	}
	if a.metricsToken != "" {
		req.Header.Set("Authorization", "Bearer "+a.metricsToken)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return benchNodeSample{}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return benchNodeSample{}
	}
	return parseBenchMetrics(bufio.NewScanner(resp.Body))
}

// parseBenchMetrics picks process_cpu_seconds_total and
// process_resident_memory_bytes out of Prometheus text.
func parseBenchMetrics(sc *bufio.Scanner) benchNodeSample {
	var s benchNodeSample
	var cpu, rss bool
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			s.cpuSeconds, cpu = f, true
		case "process_resident_memory_bytes":
			s.rssBytes, rss = f, true
		}
	}
	s.ok = cpu && rss && sc.Err() == nil
	return s
}

// addNodeFigures adds to s the nodes' CPU time over the measured run
// (before → after) per successful operation, and their memory after it.
func (s *benchSummary) addNodeFigures(before, after []benchNodeSample) {
	var cpu float64
	rss := make([]float64, len(after))
	for i := range after {
		if i >= len(before) || !before[i].ok || !after[i].ok {
			return
		}
		cpu += after[i].cpuSeconds - before[i].cpuSeconds
		rss[i] = round3(after[i].rssBytes / (1 << 20))
	}
	s.NodeCPUS = round3(cpu)
	if s.Ops > 0 {
		s.NodeCPUMSPerOp = round3(cpu * 1000 / float64(s.Ops))
	}
	s.NodeRSSMB = rss
}
