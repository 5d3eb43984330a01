package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// swarmStack is deploy/stack.yml deployed under its own stack name, image
// and secrets on a single-node swarm. The routing mesh needs IPVS, which
// engines like this one lack, so the test reaches every task directly: on
// a single-node swarm each task also sits on docker_gwbridge, a bridge on
// the host.
type swarmStack struct {
	t       *testing.T
	name    string
	service string
	env     []string

	mu  sync.Mutex
	ips map[int]string // slot → IP of its running task
}

// joinSwarm makes sure the engine is a swarm manager: it initialises a
// swarm (and leaves it, and removes the networks that came with it, at
// cleanup) only if the engine is in none; a swarm it did not create is
// left alone.
func joinSwarm(t *testing.T) {
	t.Helper()
	state := run(t, "docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")
	switch state {
	case "active true":
		t.Logf("using the engine's swarm (left as it is)")
		return
	case "inactive false":
	default:
		t.Skipf("skipping the swarm tests: the engine's swarm state is %q (a worker, or changing), not one this test may use", state)
	}
	hadGW := false
	if _, err := try("docker", "network", "inspect", "docker_gwbridge"); err == nil {
		hadGW = true
	}
	if out, err := try("docker", "swarm", "init", "--advertise-addr", "127.0.0.1"); err != nil {
		t.Skipf("skipping the swarm tests: docker swarm init failed: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := try("docker", "swarm", "leave", "--force"); err != nil {
			t.Errorf("leave the swarm this test created: %v %s", err, out)
		}
		if !hadGW {
			// Its endpoints go with the last task; retry for a while.
			for i := 0; i < 40; i++ {
				if _, err := try("docker", "network", "rm", "docker_gwbridge"); err == nil {
					break
				}
				if _, err := try("docker", "network", "inspect", "docker_gwbridge"); err != nil {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
	})
}

// deployStack creates the stack's secrets and deploys deploy/stack.yml,
// with nothing set but the image, the secrets' names and a free port.
func deployStack(t *testing.T, tag string, replicas int) *swarmStack {
	t.Helper()
	return deployStackFile(t, tag, replicas, "s", filepath.Join(repoRoot(t), "deploy", "stack.yml"))
}

// deployStackFile deploys the stack file under the name runID+suffix.
func deployStackFile(t *testing.T, tag string, replicas int, suffix, file string) *swarmStack {
	t.Helper()
	s := &swarmStack{t: t, name: runID + suffix}
	s.service = s.name + "_agenda"
	jwt, hmac := s.name+"_jwt_secret", s.name+"_cluster_hmac_secret"
	port := freePort(t)
	s.env = []string{
		"AGENDA_IMAGE=" + tag, "AGENDA_PORT=" + strconv.Itoa(port),
		"AGENDA_JWT_SECRET=" + jwt, "AGENDA_CLUSTER_HMAC_SECRET=" + hmac,
	}
	if replicas != 3 {
		s.env = append(s.env, fmt.Sprintf("AGENDA_REPLICAS=%d", replicas))
	}
	t.Cleanup(s.remove)
	for _, name := range []string{jwt, hmac} {
		dir := t.TempDir()
		f := filepath.Join(dir, "secret")
		if err := os.WriteFile(f, []byte(fmt.Sprintf("%s-%d-0123456789abcdef0123456789abcdef", name, time.Now().UnixNano())), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, "docker", "secret", "create", name, f)
	}
	if out, err := tryEnv(s.env, "docker", "stack", "deploy", "--resolve-image", "never", "-c", file, s.name); err != nil {
		t.Fatalf("docker stack deploy: %v %s", err, out)
	}
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// remove removes the stack, its volumes and secrets, waiting for its
// containers to be gone (a volume in use cannot be removed).
func (s *swarmStack) remove() {
	t := s.t
	if t.Failed() {
		for slot := range s.slots() {
			if id := s.containerOf(slot); id != "" {
				out, _ := try("docker", "logs", "--tail", "30", id)
				t.Logf("--- slot %d:\n%s", slot, out)
			}
		}
		out, _ := try("docker", "service", "ps", "--no-trunc", s.service)
		t.Logf("--- docker service ps:\n%s", out)
	}
	try("docker", "stack", "rm", s.name)
	for i := 0; i < 120; i++ {
		out, _ := try("docker", "ps", "-aq", "--filter", "label=com.docker.stack.namespace="+s.name)
		if out == "" {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out, _ := try("docker", "volume", "ls", "-q", "--filter", "name="+s.service+"-data-"); out != "" {
		for _, v := range strings.Fields(out) {
			for i := 0; i < 20; i++ {
				if _, err := try("docker", "volume", "rm", v); err == nil {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
	}
	try("docker", "secret", "rm", s.name+"_jwt_secret", s.name+"_cluster_hmac_secret")
	for i := 0; i < 40; i++ {
		if _, err := try("docker", "network", "inspect", s.name+"_agenda"); err != nil {
			break
		}
		try("docker", "network", "rm", s.name+"_agenda")
		time.Sleep(500 * time.Millisecond)
	}
}

// slots maps the slot of every running task to its container ID.
func (s *swarmStack) slots() map[int]string {
	out, err := try("docker", "ps", "--no-trunc", "--filter", "label=com.docker.swarm.service.name="+s.service,
		"--format", `{{.ID}} {{.Label "com.docker.swarm.task.name"}}`)
	m := map[int]string{}
	if err != nil {
		return m
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		parts := strings.Split(f[1], ".") // <service>.<slot>.<task id>
		if len(parts) < 3 {
			continue
		}
		if slot, err := strconv.Atoi(parts[1]); err == nil {
			m[slot] = f[0]
		}
	}
	return m
}

func (s *swarmStack) containerOf(slot int) string { return s.slots()[slot] }

// refresh maps every running task's slot to its IP on docker_gwbridge
// (whose endpoints are keyed by container ID).
func (s *swarmStack) refresh() {
	slots := s.slots()
	out, _ := try("docker", "network", "inspect", "docker_gwbridge", "--format",
		`{{range $k, $v := .Containers}}{{$k}} {{$v.IPv4Address}}{{"\n"}}{{end}}`)
	gw := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			ip, _, _ := strings.Cut(f[1], "/")
			gw[f[0]] = ip
		}
	}
	ips := map[int]string{}
	for slot, id := range slots {
		if ip, ok := gw[id]; ok {
			ips[slot] = ip
		}
	}
	s.mu.Lock()
	s.ips = ips
	s.mu.Unlock()
}

// targets lists the IPs of the running tasks, by slot.
func (s *swarmStack) targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	slots := make([]int, 0, len(s.ips))
	for slot := range s.ips {
		slots = append(slots, slot)
	}
	sort.Ints(slots)
	out := make([]string, 0, len(slots))
	for _, slot := range slots {
		out = append(out, s.ips[slot])
	}
	return out
}

// waitStable waits until n tasks are ready under one leader with n voters.
func (s *swarmStack) waitStable(n int, d time.Duration, what string) time.Duration {
	s.t.Helper()
	return waitFor(s.t, d, what, func() string {
		s.refresh()
		return stableErr(s.targets(), n)
	})
}

// refreshing keeps the task IPs fresh while a load runs (tasks move).
func (s *swarmStack) refreshing() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
				s.refresh()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// waitUpdate waits for a service update to complete (not roll back).
func (s *swarmStack) waitUpdate(d time.Duration) {
	s.t.Helper()
	waitFor(s.t, d, "service update", func() string {
		st, err := try("docker", "service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", s.service)
		switch {
		case err != nil:
			return err.Error()
		case st == "completed":
			return ""
		case strings.HasPrefix(st, "rollback") || st == "paused":
			s.t.Fatalf("service update ended %s", st)
		}
		return "state " + st
	})
}

// TestSwarmStack deploys deploy/stack.yml on a single-node swarm with no
// setting beyond its secrets and checks what Swarm does to it: it forms;
// every task killed at once (a daemon restart: every task comes back on a
// new IP) and it recovers with its data; scaled from 3 to 5 and back; and
// `docker service update --force` (every task replaced in turn) at three
// under a write load loses no acknowledged write. AGENDA_DEPLOY_LONG=1
// runs the forced update at five instead, followed by a kill of all five.
func TestSwarmStack(t *testing.T) {
	requireEngine(t)
	requireTime(t, 5*time.Minute)
	tag := image(t)
	joinSwarm(t)
	long := os.Getenv("AGENDA_DEPLOY_LONG") != ""

	start := time.Now()
	s := deployStack(t, tag, 3)
	s.waitStable(3, 3*time.Minute, "fresh stack of 3 ready")
	t.Logf("FIGURE swarm: fresh stack of 3 ready %v after docker stack deploy", time.Since(start).Round(100*time.Millisecond))

	ips := s.targets()
	u := newClient(ips[0])
	u.register(t, "swarmuser")
	u.knownOn(t, s.targets())
	var acked []written
	for i := 1; i <= 9; i++ {
		acked = append(acked, u.via(ips[i%3]).mustCreate(t, i))
	}
	expectEverywhere := func() {
		t.Helper()
		for _, ip := range s.targets() {
			u.via(ip).expectVisible(t, acked...)
		}
	}
	expectEverywhere()

	killAll := func(n int) {
		t.Helper()
		var ids []string
		for _, id := range s.slots() {
			ids = append(ids, id)
		}
		killed := time.Now()
		run(t, "docker", append([]string{"kill"}, ids...)...)
		s.waitStable(n, 3*time.Minute, fmt.Sprintf("all %d tasks killed at once: recovered", n))
		t.Logf("FIGURE swarm: all %d tasks killed at once; ready again with one leader after %v", n, time.Since(killed).Round(100*time.Millisecond))
		expectEverywhere()
		acked = append(acked, u.via(s.targets()[0]).createEventually(t, 1000+len(acked), time.Minute))
	}
	forcedUpdate := func(n int) {
		t.Helper()
		var users []*client
		for i := 0; i < 6; i++ {
			w := newClient(s.targets()[i%n])
			w.register(t, fmt.Sprintf("swarmload%d%d", n, i))
			users = append(users, w)
		}
		stop := s.refreshing()
		lb := newBalancer(s.targets)
		l := startLoad(users, lb.targets)
		time.Sleep(2 * time.Second)
		updated := time.Now()
		run(t, "docker", "service", "update", "-d", "--force", s.service)
		s.waitUpdate(10 * time.Minute)
		lb.close()
		stop()
		s.waitStable(n, 3*time.Minute, "after service update --force")
		took := time.Since(updated)
		time.Sleep(time.Second)
		ws, tries, gap := l.end()
		lost := lostWrites(users, ws, s.targets())
		t.Logf("FIGURE swarm: service update --force of %d tasks took %v under load: %d of %d writes acknowledged, %d lost, longest gap without an acknowledged write (writers behind a balancer checking /readyz) %v",
			n, took.Round(100*time.Millisecond), len(ws), tries, lost, gap.Round(time.Millisecond))
		t.Logf("failed attempts during the longest gap (%s → %s):\n%s", l.gapFrom.Format("15:04:05.000"), l.gapTo.Format("15:04:05.000"), l.gapErrors())
		if len(ws) == 0 {
			t.Fatal("no write acknowledged during the update")
		}
		if lost > 0 {
			t.Fatalf("%d acknowledged writes lost in service update --force", lost)
		}
		expectEverywhere()
	}
	killAll(3)
	// The documented online backup, in a task just restarted: the node
	// confirms through the leader that its store holds every acknowledged
	// write, with the task's own address and secret file.
	out, err := try("docker", "exec", s.containerOf(1), "/agenda", "backup", "--out", "/data/backup-test.db")
	if err != nil || !strings.Contains(out, "every write the cluster had acknowledged is in it") {
		t.Fatalf("docker exec … agenda backup in slot 1: %v\n%s", err, out)
	}
	if !long {
		forcedUpdate(3)
	}

	scaled := time.Now()
	run(t, "docker", "service", "scale", "-d", s.service+"=5")
	s.waitStable(5, 3*time.Minute, "scaled to 5")
	t.Logf("FIGURE swarm: scaled 3→5; both new tasks voters and ready %v after docker service scale", time.Since(scaled).Round(100*time.Millisecond))
	expectEverywhere()

	if long {
		forcedUpdate(5)
		killAll(5)
	}

	// Scale down: Swarm picks the tasks to stop; the slots that went away
	// stay voters (the leader keeps them until DEAD_NODE_TIMEOUT) and are
	// removed with agenda cluster remove-node, as deploy/README.md says.
	run(t, "docker", "service", "scale", "-d", s.service+"=3")
	waitFor(t, 2*time.Minute, "3 tasks left", func() string {
		if n := len(s.slots()); n != 3 {
			return fmt.Sprintf("%d tasks", n)
		}
		return ""
	})
	s.refresh()
	acked = append(acked, u.via(s.targets()[0]).createEventually(t, 5000, time.Minute))
	left := s.slots()
	var any string
	for _, id := range left {
		any = id
	}
	for slot := 1; slot <= 5; slot++ {
		if _, ok := left[slot]; !ok {
			out, err := try("docker", "exec", any, "/agenda", "cluster", "remove-node", "-addr", "127.0.0.1:8080", fmt.Sprintf("agenda-%d", slot))
			if err != nil {
				t.Fatalf("remove agenda-%d: %v %s", slot, err, out)
			}
		}
	}
	s.waitStable(3, 2*time.Minute, "scaled down to 3")
	expectEverywhere()
}

// TestSwarmStackWithoutHostNames deploys the stack without its per-slot
// host names and advertise addresses: each node must find its own address
// (the overlay's, never the ingress network's), and advertises an IP. When
// every task is killed at once they all come back on new IPs while the
// Raft configuration holds the old ones; they must find each other and
// elect a leader with no operator action.
func TestSwarmStackWithoutHostNames(t *testing.T) {
	requireEngine(t)
	requireTime(t, 2*time.Minute)
	tag := image(t)
	joinSwarm(t)
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "hostname:") || strings.HasPrefix(trimmed, "ADVERTISE_ADDR:") || strings.HasPrefix(trimmed, "RAFT_ADVERTISE_ADDR:") {
			continue
		}
		lines = append(lines, line)
	}
	file := filepath.Join(t.TempDir(), "stack-ip.yml")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s := deployStackFile(t, tag, 3, "i", file)
	s.waitStable(3, 3*time.Minute, "stack advertising IPs ready")
	t.Logf("FIGURE swarm (IPs advertised): fresh stack of 3 ready %v after docker stack deploy", time.Since(start).Round(100*time.Millisecond))
	overlay := s.overlayIPs()
	addrs := s.raftAddrs(t)
	for id, addr := range addrs {
		host, _, _ := net.SplitHostPort(addr)
		if !overlay[host] {
			t.Fatalf("%s advertises %s, not one of the tasks' addresses on the stack's network %v", id, addr, overlay)
		}
	}
	u := newClient(s.targets()[0])
	u.register(t, "ipuser")
	u.knownOn(t, s.targets())
	var acked []written
	for i := 1; i <= 6; i++ {
		acked = append(acked, u.via(s.targets()[i%3]).mustCreate(t, i))
	}
	var ids []string
	for _, id := range s.slots() {
		ids = append(ids, id)
	}
	killed := time.Now()
	run(t, "docker", append([]string{"kill"}, ids...)...)
	s.waitStable(3, 3*time.Minute, "all tasks killed at once, back on new IPs: recovered")
	t.Logf("FIGURE swarm (IPs advertised): all 3 tasks killed at once; ready again with one leader after %v", time.Since(killed).Round(100*time.Millisecond))
	for id, addr := range s.raftAddrs(t) {
		if addr == addrs[id] {
			t.Logf("%s came back at the same address %s", id, addr)
		}
	}
	for _, ip := range s.targets() {
		u.via(ip).expectVisible(t, acked...)
	}
	u.via(s.targets()[1]).createEventually(t, 100, time.Minute)
}

// overlayIPs returns the addresses of the running tasks on the stack's own
// network.
func (s *swarmStack) overlayIPs() map[string]bool {
	out := map[string]bool{}
	for _, id := range s.slots() {
		ip, _ := try("docker", "inspect", "--format", `{{(index .NetworkSettings.Networks "`+s.name+`_agenda").IPAddress}}`, id)
		if ip != "" {
			out[ip] = true
		}
	}
	return out
}

// raftAddrs returns every voter's Raft address in the leader's view.
func (s *swarmStack) raftAddrs(t *testing.T) map[string]string {
	t.Helper()
	st, err := getStatus(s.targets()[0])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range st.Nodes {
		out[n.ID] = n.Address
	}
	return out
}
