package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agendahq/agenda/readmodel"
)

// childNode is an agenda node in its own process (this test binary,
// re-executed), so that it can be killed with SIGKILL.
type childNode struct {
	t        *testing.T
	dir      string
	httpAddr string
	raftAddr string
	cmd      *exec.Cmd
	log      *os.File
}

func newChildNode(t *testing.T) *childNode {
	return &childNode{t: t, dir: t.TempDir(), httpAddr: freeAddr(t), raftAddr: freeAddr(t)}
}

func (c *childNode) start() {
	c.t.Helper()
	args := strings.Join([]string{"serve", "-data-dir", c.dir, "-http-addr", c.httpAddr, "-raft-addr", c.raftAddr,
		"-node-id", "child", "-bcrypt-cost", "4", "-log-level", "warn"}, "\x1f")
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"="+args, "JWT_SECRET="+testJWTSecret)
	var err error
	c.log, err = os.OpenFile(filepath.Join(c.dir, "child.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("start child node: %v", err)
	}
	c.t.Cleanup(c.kill)
	c.waitReady()
}

// waitReady is waitReady with what a failure needs to be understood: the
// node's last /readyz answer (its reason) and the end of its log, which
// lives in a temp dir the test removes. A restart after SIGKILL recovers
// its stores first, and CI runs the Docker tests alongside: it gets 30 s.
func (c *childNode) waitReady() {
	c.t.Helper()
	var last string
	const bound = 30 * time.Second
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + c.httpAddr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(c.dir, "child.log"))
	if len(log) > 4000 {
		log = log[len(log)-4000:]
	}
	c.t.Fatalf("child node not ready after %v; last /readyz: %s\nend of its log:\n%s", bound, last, log)
}

// kill sends SIGKILL and reaps the process.
func (c *childNode) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	c.log.Close()
	c.cmd = nil
}

// stop sends SIGTERM and waits for a clean exit (SIGKILL after 20 s, which
// fails the test).
func (c *childNode) stop() {
	c.t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Errorf("child node exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-done
		c.t.Errorf("child node did not stop within 20 s of SIGTERM")
	}
	c.log.Close()
	c.cmd = nil
}

func (c *childNode) client() *client {
	return &client{t: c.t, base: "http://" + c.httpAddr, http: &http.Client{Timeout: 5 * time.Second}}
}

// TestCrashLosesNoAcknowledgedWrite kills a node with SIGKILL while clients
// are writing, restarts it, and checks that every write it acknowledged is
// there and that the read model has caught up with the event store — three
// times in a row.
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	node := newChildNode(t)
	node.start()
	owner := node.client()
	owner.do("POST", "/api/auth/register", map[string]any{"username": "crash", "password": "password-crash"}).expect(t, http.StatusCreated)
	owner.login("crash", "password-crash")

	acked := map[string]bool{}
	var mu sync.Mutex
	base := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	slot := 0
	nextSlot := func() int {
		mu.Lock()
		defer mu.Unlock()
		slot++
		return slot
	}

	for round := 0; round < 3; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := &http.Client{Timeout: 2 * time.Second}
				for {
					select {
					case <-stop:
						return
					default:
					}
					s := nextSlot()
					body := fmt.Sprintf(`{"title":"w%d","start":%q,"end":%q}`, s,
						base.Add(time.Duration(s)*time.Hour).Format(time.RFC3339),
						base.Add(time.Duration(s)*time.Hour+30*time.Minute).Format(time.RFC3339))
					req, _ := http.NewRequest("POST", owner.base+"/api/appointments", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+owner.token)
					resp, err := hc.Do(req)
					if err != nil {
						// The node is gone: stop this writer.
						return
					}
					var out struct {
						ID string `json:"id"`
					}
					if resp.StatusCode == http.StatusCreated {
						decodeInto(resp, &out)
						mu.Lock()
						acked[out.ID] = true
						mu.Unlock()
					}
					resp.Body.Close()
				}
			}()
		}
		time.Sleep(700 * time.Millisecond)
		node.kill()
		close(stop)
		wg.Wait()

		node.start()
		mu.Lock()
		n := len(acked)
		ids := make([]string, 0, n)
		for id := range acked {
			ids = append(ids, id)
		}
		mu.Unlock()
		if n == 0 {
			t.Fatalf("round %d: no write was acknowledged before the kill", round)
		}
		// Ready means the read model has caught up with the event store.
		for _, id := range ids {
			owner.do("GET", "/api/appointments/"+id, nil).expect(t, http.StatusOK)
		}
		var entries []map[string]any
		owner.do("GET", agendaPath(base, base.Add(365*24*time.Hour)), nil).expect(t, http.StatusOK).JSON(t, &entries)
		if len(entries) < n {
			t.Fatalf("round %d: agenda has %d entries, %d writes were acknowledged", round, len(entries), n)
		}
		t.Logf("round %d: %d acknowledged writes survived SIGKILL (%d entries, some unacknowledged ones may have committed)", round, n, len(entries))
	}

	// The read model is written without fsync (sqlite.Unsynced): after the
	// kills, it must still be exactly what a replay of the event store
	// builds. SIGKILL left its marker (the machine did not stop, so it was
	// kept); a clean stop removes it.
	rm := filepath.Join(node.dir, "readmodel.db")
	if _, err := os.Stat(rm + "-unsynced"); err != nil {
		t.Errorf("no marker beside the read model of a running node: %v", err)
	}
	node.stop()
	if _, err := os.Stat(rm + "-unsynced"); !os.IsNotExist(err) {
		t.Errorf("the read model's marker survived a clean stop (%v)", err)
	}
	live := dumpReadModel(t, rm)
	if err := readmodel.RemoveFile(rm); err != nil {
		t.Fatal(err)
	}
	node.start() // ready once the projectors have rebuilt it
	node.stop()
	for _, d := range readModelDiffs(live, dumpReadModel(t, rm), "after the kills", "replayed") {
		t.Error(d)
	}
}
