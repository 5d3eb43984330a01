package deploy

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// composeCluster is deploy/compose.yml brought up under its own project
// name, its ports published on random loopback ports (the test talks to
// the containers' bridge IPs anyway).
type composeCluster struct {
	t       *testing.T
	project string
	file    string
	env     []string

	mu  sync.Mutex
	ips map[string]string // service → IP, refreshed by refresh
}

func (c *composeCluster) compose(args ...string) (string, error) {
	return tryEnv(c.env, "docker-compose", append([]string{"-p", c.project, "-f", c.file}, args...)...)
}

// container returns the container ID of a service.
func (c *composeCluster) container(svc string) string {
	c.t.Helper()
	id, err := c.compose("ps", "-q", svc)
	if err != nil || id == "" {
		c.t.Fatalf("container of %s: %q %v", svc, id, err)
	}
	return id
}

// refresh re-reads every service's IP (a restarted or reconnected
// container may have a new one).
func (c *composeCluster) refresh() {
	ips := map[string]string{}
	for _, svc := range []string{"agenda-1", "agenda-2", "agenda-3"} {
		id, err := c.compose("ps", "-q", svc)
		if err != nil || id == "" {
			continue
		}
		out, err := try("docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", id)
		if f := strings.Fields(out); err == nil && len(f) > 0 {
			ips[svc] = f[0]
		}
	}
	c.mu.Lock()
	c.ips = ips
	c.mu.Unlock()
}

func (c *composeCluster) ip(svc string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ips[svc]
}

// targets lists the IPs of the services, all or but those named.
func (c *composeCluster) targets(except ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for svc, ip := range c.ips {
		skip := false
		for _, e := range except {
			skip = skip || e == svc
		}
		if !skip && ip != "" {
			out = append(out, ip)
		}
	}
	return out
}

// waitStable waits until the three nodes are ready under one leader and
// returns how long it took.
func (c *composeCluster) waitStable(d time.Duration) time.Duration {
	c.t.Helper()
	return waitFor(c.t, d, "compose cluster stable", func() string {
		c.refresh()
		return stableErr(c.targets(), 3)
	})
}

// leader returns the service name of the leader.
func (c *composeCluster) leader() string {
	c.t.Helper()
	s, err := getStatus(c.ip("agenda-1"))
	if err != nil || s.LeaderID == "" {
		c.t.Fatalf("leader: %+v %v", s, err)
	}
	return s.LeaderID // node IDs are the service names
}

// expectEverywhere checks that ws read back on every node.
func (c *composeCluster) expectEverywhere(u *client, ws []written) {
	c.t.Helper()
	for _, svc := range []string{"agenda-1", "agenda-2", "agenda-3"} {
		u.via(c.ip(svc)).expectVisible(c.t, ws...)
	}
}

// TestCompose runs deploy/compose.yml: three nodes on a private bridge
// network that form a cluster; writes through every node; the leader
// killed; a follower cut off the network and reconnected; a rolling
// restart under a write load. Nothing acknowledged may be lost.
func TestCompose(t *testing.T) {
	requireEngine(t)
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("skipping: no docker-compose (v1) on PATH")
	}
	requireTime(t, 4*time.Minute) // an image build (cold: 1-2 min) and the scenario
	tag := image(t)
	c := &composeCluster{
		t:       t,
		project: runID + "compose",
		file:    filepath.Join(repoRoot(t), "deploy", "compose.yml"),
		env: []string{"AGENDA_IMAGE=" + tag,
			"AGENDA_HTTP_1=127.0.0.1:", "AGENDA_HTTP_2=127.0.0.1:", "AGENDA_HTTP_3=127.0.0.1:"},
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, svc := range []string{"agenda-1", "agenda-2", "agenda-3"} {
				out, _ := c.compose("logs", "--no-color", "--tail", "30", svc)
				t.Logf("--- %s:\n%s", svc, out)
			}
		}
		if out, err := c.compose("down", "-v", "--remove-orphans", "-t", "5"); err != nil {
			t.Errorf("compose down: %v %s", err, out)
		}
	})
	start := time.Now()
	if out, err := c.compose("up", "-d"); err != nil {
		t.Fatalf("compose up: %v %s", err, out)
	}
	c.waitStable(2 * time.Minute)
	t.Logf("FIGURE compose: 3 nodes ready %v after up", time.Since(start).Round(100*time.Millisecond))

	// Writes through every node, read on every node.
	u := newClient(c.ip("agenda-1"))
	u.register(t, "composeuser")
	u.knownOn(t, c.targets())
	var acked []written
	for s := 1; s <= 9; s++ {
		acked = append(acked, u.via(c.ip(fmt.Sprintf("agenda-%d", s%3+1))).mustCreate(t, s))
	}
	c.expectEverywhere(u, acked)

	// The leader killed: the others take writes; it comes back and catches up.
	leader := c.leader()
	killed := time.Now()
	run(t, "docker", "kill", c.container(leader))
	var survivor string
	for _, svc := range []string{"agenda-1", "agenda-2", "agenda-3"} {
		if svc != leader {
			survivor = svc
		}
	}
	acked = append(acked, u.via(c.ip(survivor)).createEventually(t, 100, time.Minute))
	t.Logf("FIGURE compose: first write acknowledged %v after the leader (%s) was killed", time.Since(killed).Round(time.Millisecond), leader)
	if out, err := c.compose("start", leader); err != nil {
		t.Fatalf("start %s: %v %s", leader, err, out)
	}
	c.waitStable(2 * time.Minute)
	c.expectEverywhere(u, acked)

	// A follower cut off its network: the others go on; reconnected, it
	// catches up. Its host name stays its alias on the network.
	follower := ""
	for _, svc := range []string{"agenda-1", "agenda-2", "agenda-3"} {
		if svc != c.leader() {
			follower = svc
			break
		}
	}
	network := c.project + "_default"
	fid := c.container(follower)
	run(t, "docker", "network", "disconnect", network, fid)
	connected := false
	t.Cleanup(func() {
		if !connected {
			try("docker", "network", "connect", "--alias", follower, network, fid)
		}
	})
	for s := 200; s < 205; s++ {
		acked = append(acked, u.via(c.targets(follower)[s%2]).createEventually(t, s, time.Minute))
	}
	run(t, "docker", "network", "connect", "--alias", follower, network, fid)
	connected = true
	c.waitStable(2 * time.Minute)
	c.expectEverywhere(u, acked)

	// A rolling restart (SIGTERM, then start) of every node under a write
	// load through every node.
	var users []*client
	for i := 1; i <= 3; i++ {
		w := newClient(c.ip(fmt.Sprintf("agenda-%d", i)))
		w.register(t, fmt.Sprintf("composeload%d", i))
		users = append(users, w)
	}
	lb := newBalancer(func() []string { return c.targets() })
	defer lb.close()
	l := startLoad(users, lb.targets)
	time.Sleep(time.Second)
	for _, svc := range []string{"agenda-1", "agenda-2", "agenda-3"} {
		run(t, "docker", "restart", "-t", "30", c.container(svc))
		c.waitStable(2 * time.Minute)
	}
	time.Sleep(time.Second)
	ws, tries, gap := l.end()
	t.Logf("FIGURE compose rolling restart: %d of %d writes acknowledged, longest gap (behind a balancer checking /readyz) %v", len(ws), tries, gap.Round(time.Millisecond))
	t.Logf("failed attempts during the longest gap:\n%s", l.gapErrors())
	if len(ws) == 0 {
		t.Fatal("no write acknowledged during the rolling restart")
	}
	if lost := lostWrites(users, ws, c.targets()); lost > 0 {
		t.Fatalf("%d acknowledged writes lost in the rolling restart", lost)
	}
	c.expectEverywhere(u, acked)
}
