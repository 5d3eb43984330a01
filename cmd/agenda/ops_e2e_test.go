package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda/readmodel"
)

const testAuditToken = "test-audit-token-0123456789abcdef"

var opsDay = time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)

// populate gives a node a little of everything: users, personal
// appointments, a hierarchical group with an imposed meeting and an
// invitation answered, notifications. It returns the users' clients.
func populate(t *testing.T, n *Node, users, perUser int) []*client {
	t.Helper()
	var cs []*client
	for i := 0; i < users; i++ {
		cs = append(cs, registerUser(t, n, fmt.Sprintf("ops%02d", i)))
	}
	for i, c := range cs {
		for j := 0; j < perUser; j++ {
			start := opsDay.Add(time.Duration(j)*24*time.Hour + time.Duration(i)*time.Hour)
			c.do("POST", "/api/appointments", appointmentBody(fmt.Sprintf("%s #%d", c.userID[:6], j), start, 30*time.Minute)).expect(t, http.StatusCreated)
		}
	}
	var g struct {
		ID string `json:"id"`
	}
	cs[0].do("POST", "/api/groups", map[string]any{"name": "Ops team", "hierarchical": true}).expect(t, http.StatusCreated).JSON(t, &g)
	for i, c := range cs[1:] {
		cs[0].do("POST", "/api/groups/"+g.ID+"/members", map[string]any{"user_id": c.userID, "rank": 10 + i}).expect(t, http.StatusCreated)
		if r := c.do("POST", "/api/groups/"+g.ID+"/accept", nil); r.Status != http.StatusOK && r.Status != http.StatusNotFound {
			t.Fatalf("accept group invitation: %d %s", r.Status, r.Body)
		}
	}
	meeting := opsDay.Add(-48 * time.Hour)
	cs[0].do("POST", "/api/groups/"+g.ID+"/appointments", appointmentBody("Imposed", meeting, time.Hour)).expect(t, http.StatusCreated)
	var a struct {
		ID string `json:"id"`
	}
	cs[1].do("POST", "/api/groups/"+g.ID+"/appointments", appointmentBody("Proposed", meeting.Add(2*time.Hour), time.Hour)).expect(t, http.StatusCreated).JSON(t, &a)
	cs[0].do("POST", "/api/appointments/"+a.ID+"/accept", nil).expect(t, http.StatusOK)
	return cs
}

// views returns what each user sees: agenda, invitations, notifications.
func views(t *testing.T, cs []*client) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range cs {
		for _, p := range []string{agendaPath(opsDay.Add(-7*24*time.Hour), opsDay.Add(60*24*time.Hour)), "/api/invitations", "/api/notifications", "/api/me"} {
			out[c.userID+" "+p] = string(c.do("GET", p, nil).expect(t, http.StatusOK).Body)
		}
	}
	return out
}

// runCLI runs an agenda subcommand in-process and returns its exit code
// (0 on success) and error.
func runCLI(args ...string) (int, error) {
	err := run(args)
	if err == nil {
		return 0, nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, err
	}
	return 2, err
}

// A backup taken while the node runs, restored into a new data dir, starts
// a new single node with the same history and the same agenda for every
// user; it then takes new writes. Restoring over an existing dir is refused.
func TestBackupRestoreRoundTrip(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.AuditToken = testAuditToken
	n := startNode(t, cfg)
	cs := populate(t, n, 4, 5)
	want := views(t, cs)
	head := n.store.Head()

	backup := filepath.Join(t.TempDir(), "agenda.backup")
	// As a deployment gives them to the node and its CLI alike: the
	// backup asks the node it copies to confirm it is complete. Not
	// NODE_ID, which a review left out: the node names itself.
	t.Setenv("NODE_ID", "")
	t.Setenv("HTTP_ADDR", n.HTTPAddr())
	t.Setenv("CLUSTER_HMAC_SECRET", cfg.ClusterSecret)
	if code, err := runCLI("backup", "--out", backup, "--data-dir", cfg.DataDir); code != 0 {
		t.Fatalf("backup of a running node: exit %d: %v", code, err)
	}
	if code, _ := runCLI("backup", "--out", backup, "--data-dir", cfg.DataDir); code != exitRefused {
		t.Errorf("backup over an existing file: exit %d, want %d", code, exitRefused)
	}
	missing := filepath.Join(t.TempDir(), "not-mounted")
	if code, err := runCLI("backup", "--out", filepath.Join(missing, "agenda.backup"), "--data-dir", cfg.DataDir); code != exitFailed || !strings.Contains(err.Error(), "the directory "+missing+" does not exist") {
		t.Errorf("backup into a missing directory: exit %d (%v), want %d naming the directory", code, err, exitFailed)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backup created %s: %v", missing, err)
	}
	// The node keeps writing after the backup; the restore must not have it.
	cs[0].do("POST", "/api/appointments", appointmentBody("After the backup", opsDay.Add(40*24*time.Hour), time.Hour)).expect(t, http.StatusCreated)
	// The backup is in the node's audit trail, under the node's ID (a
	// review found the CLI's entries under none).
	if logs := waitAudit(t, n, cs[0], "backup.created"); len(logs) == 0 || logs[0].NodeID != cfg.NodeID {
		t.Errorf("backup.created entries %+v; want one of node %s", logs, cfg.NodeID)
	}
	n.Close()

	if code, _ := runCLI("restore", "--from", backup, "--data-dir", cfg.DataDir); code != exitRefused {
		t.Errorf("restore over an existing data dir: exit %d, want %d", code, exitRefused)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	// The backup is only read: a read-only file stays as it was, bytes and
	// mode (a review found a restore needing write access to it, and
	// leaving it changed).
	if err := os.Chmod(backup, 0o444); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := runCLI("restore", "--from", backup, "--data-dir", dir); code != 0 {
		t.Fatalf("restore: exit %d: %v", code, err)
	}
	if after, err := os.ReadFile(backup); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the restore changed the backup (%v)", err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("the backup's mode after the restore: %v (%v), want -r--r--r--", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) == 0 {
		t.Errorf("nothing restored into %s", dir)
	} else {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".agenda-restore-") {
				t.Errorf("the restore left its copy %s in the data dir", e.Name())
			}
		}
	}
	rcfg := testConfig(t, dir)
	rcfg.NodeID = "restored-node"
	r := startNode(t, rcfg)
	if got := r.store.Head(); got != head {
		t.Fatalf("restored head = %d, want %d", got, head)
	}
	var rcs []*client
	for i, c := range cs {
		rc := newClient(t, r)
		rc.login(fmt.Sprintf("ops%02d", i), fmt.Sprintf("password-ops%02d", i)) // passwords survive
		if rc.userID != c.userID {
			t.Fatalf("user ops%02d has ID %s after restore, want %s", i, rc.userID, c.userID)
		}
		rcs = append(rcs, rc)
	}
	got := views(t, rcs)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("after restore, %s:\n got %s\nwant %s", k, got[k], w)
		}
	}
	// New writes land after the restored history.
	res := rcs[1].do("POST", "/api/appointments", appointmentBody("After the restore", opsDay.Add(50*24*time.Hour), time.Hour)).expect(t, http.StatusCreated)
	if p := positionOf(t, res); p <= head {
		t.Errorf("first write after restore at position %d, want > %d", p, head)
	}
}

// `agenda projections rebuild` on a copy of a stopped node's data dir
// gives the same tables; `status` reports them; both refuse a data dir a
// running node holds, with exit code 3 and the node's PID.
func TestProjectionsCLIOnCopiedDataDir(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	populate(t, n, 3, 4)
	if code, err := runCLI("projections", "status", "-data-dir", cfg.DataDir); code != exitInUse || !strings.Contains(err.Error(), fmt.Sprintf("data dir in use by PID %d", os.Getpid())) {
		t.Errorf("status on a running node's data dir: exit %d (%v), want %d naming PID %d", code, err, exitInUse, os.Getpid())
	}
	if code, _ := runCLI("projections", "rebuild", "-data-dir", cfg.DataDir); code != exitInUse {
		t.Errorf("rebuild on a running node's data dir: exit %d, want %d", code, exitInUse)
	}
	// A wrong name is a usage error first, wherever it is asked.
	if code, err := runCLI("projections", "rebuild", "nosuch", "-data-dir", cfg.DataDir); code != exitUsage || !strings.Contains(err.Error(), `no projection "nosuch"`) {
		t.Errorf("rebuild of an unknown projection on a running node's data dir: exit %d (%v), want %d", code, err, exitUsage)
	}
	if code, err := runCLI("cluster", "recover", "-data-dir", cfg.DataDir, "-node-id", cfg.NodeID, "-voter", cfg.NodeID+"=127.0.0.1:1"); code != exitInUse {
		t.Errorf("cluster recover on a running node's data dir: exit %d (%v), want %d", code, err, exitInUse)
	}
	// The lock speaks before the dir's contents (the README's words).
	if code, err := runCLI("restore", "--from", filepath.Join(t.TempDir(), "none.db"), "-data-dir", cfg.DataDir); code != exitInUse || !strings.Contains(err.Error(), fmt.Sprintf("data dir in use by PID %d", os.Getpid())) {
		t.Errorf("restore onto a running node's data dir: exit %d (%v), want %d naming PID %d", code, err, exitInUse, os.Getpid())
	}
	n.Close()

	cp := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", cfg.DataDir, cp).CombinedOutput(); err != nil {
		t.Fatalf("copy data dir: %v %s", err, out)
	}
	want := digest(t, filepath.Join(cfg.DataDir, "readmodel.db"))
	if code, err := runCLI("projections", "status", "-data-dir", cp); code != 0 {
		t.Fatalf("status: exit %d: %v", code, err)
	}
	if code, _ := runCLI("projections", "rebuild", "nope", "-data-dir", cp); code != exitUsage {
		t.Errorf("rebuild of an unknown projection: exit %d, want %d", code, exitUsage)
	}
	if code, err := runCLI("projections", "rebuild", "-data-dir", cp); code != 0 {
		t.Fatalf("rebuild: exit %d: %v", code, err)
	}
	got := digest(t, filepath.Join(cp, "readmodel.db"))
	for table, d := range want {
		if got[table] != d {
			t.Errorf("table %s after the CLI rebuild: %s, want %s", table, got[table], d)
		}
	}
	// A damaged event store: exit 4, read model untouched.
	os.WriteFile(filepath.Join(cp, "events.db"), []byte("garbage garbage garbage garbage garbage garbage garbage garbage garbage"), 0o600)
	os.Remove(filepath.Join(cp, "events.db-wal"))
	os.Remove(filepath.Join(cp, "events.db-shm"))
	if code, _ := runCLI("projections", "rebuild", "-data-dir", cp); code != exitNoStore {
		t.Errorf("rebuild over a damaged event store: exit %d, want %d", code, exitNoStore)
	}
	// A directory that is no node's data dir is left as it was (a review
	// found a LOCK, and an audit.db, left in one).
	other := t.TempDir()
	if code, _ := runCLI("projections", "status", "-data-dir", other); code != exitNoStore {
		t.Errorf("status of a directory without a store: exit %d, want %d", code, exitNoStore)
	}
	if code, _ := runCLI("backup", "--out", filepath.Join(t.TempDir(), "b.db"), "-data-dir", other); code == 0 {
		t.Error("backup of a directory without a store succeeded")
	}
	if entries, _ := os.ReadDir(other); len(entries) != 0 {
		t.Errorf("the CLI left %v in a directory that is no data dir", entries)
	}
}

func digest(t *testing.T, path string) map[string]string {
	t.Helper()
	rm, err := readmodel.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	d, err := rm.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The admin API: 404 without AUDIT_API_TOKEN; with it, a valid JWT and the
// right X-Audit-Token are both required.
func TestAdminAPIAuth(t *testing.T) {
	plain := mustStartNode(t)
	c := registerUser(t, plain, "admin")
	for _, p := range []string{"/api/admin/audit/logs", "/api/admin/projections"} {
		if r := c.raw("GET", p, nil, map[string]string{"X-Audit-Token": "anything"}); r.Status != http.StatusNotFound {
			t.Errorf("%s without AUDIT_API_TOKEN: %d, want 404", p, r.Status)
		}
	}
	plain.Close()

	cfg := testConfig(t, t.TempDir())
	cfg.AuditToken = testAuditToken
	n := startNode(t, cfg)
	c = registerUser(t, n, "admin")
	anon := newClient(t, n)
	cases := []struct {
		name   string
		c      *client
		token  string
		status int
	}{
		{"no JWT", anon, testAuditToken, http.StatusUnauthorized},
		{"bad JWT", &client{t: t, base: c.base, token: "x.y.z", http: c.http}, testAuditToken, http.StatusUnauthorized},
		{"no audit token", c, "", http.StatusForbidden},
		{"wrong audit token", c, testAuditToken + "x", http.StatusForbidden},
		{"short audit token", c, "test", http.StatusForbidden},
		{"both", c, testAuditToken, http.StatusOK},
	}
	for _, tc := range cases {
		for _, p := range []string{"/api/admin/audit/logs", "/api/admin/projections"} {
			h := map[string]string{}
			if tc.token != "" {
				h["X-Audit-Token"] = tc.token
			}
			if r := tc.c.raw("GET", p, nil, h); r.Status != tc.status {
				t.Errorf("%s: GET %s = %d, want %d (%s)", tc.name, p, r.Status, tc.status, r.Body)
			}
		}
	}
	h := map[string]string{"X-Audit-Token": testAuditToken}
	for _, q := range []string{"?limit=0", "?limit=abc", "?since=yesterday", "?cursor=-1", "?min_position=abc", "?consistency=eventual"} {
		if r := c.raw("GET", "/api/admin/audit/logs"+q, nil, h); r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid" {
			t.Errorf("audit logs %s: %d %s, want 400 invalid", q, r.Status, r.Body)
		}
	}
	for _, p := range []string{"/api/admin/audit/logs", "/api/admin/projections"} {
		if r := c.raw("GET", p+"?min_position=1&consistency=strong", nil, h); r.Status != http.StatusOK {
			t.Errorf("%s with min_position and consistency: %d %s, want 200", p, r.Status, r.Body)
		}
	}
	for _, q := range []string{"?min_position=-1", "?consistency=yes"} {
		if r := c.raw("GET", "/api/admin/projections"+q, nil, h); r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid" {
			t.Errorf("projections %s: %d %s, want 400 invalid", q, r.Status, r.Body)
		}
	}
	if r := c.raw("POST", "/api/admin/projections/nope/rebuild", nil, h); r.Status != http.StatusNotFound {
		t.Errorf("rebuild of an unknown projection: %d, want 404", r.Status)
	}
	if r := anon.raw("POST", "/api/admin/projections/planning/rebuild", nil, h); r.Status != http.StatusUnauthorized {
		t.Errorf("rebuild without JWT: %d, want 401", r.Status)
	}
}

// Metrics: Raft, projection, audit and forwarding series are exported and
// move with the node's work.
func TestOpsMetrics(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.AuditToken = testAuditToken
	n := startNode(t, cfg)
	c := registerUser(t, n, "metered")
	before := scrape(t, n)
	for _, name := range []string{"agenda_raft_state{state=\"Leader\"}", "agenda_raft_term", "agenda_raft_commit_index", "agenda_raft_applied_index",
		"agenda_raft_log_entries", "agenda_raft_leader_changes_total", "agenda_raft_apply_duration_seconds_count", "agenda_raft_snapshot_duration_seconds_count",
		"agenda_projection_position{projection=\"planning\"}", "agenda_projection_lag{projection=\"users\"}", "agenda_audit_queue_depth",
		"agenda_audit_written_total", "agenda_forwarded_write_duration_seconds_count", "agenda_websocket_subscribers",
		// From the start, at 0, so that a dashboard shows no forward rather than no data.
		"agenda_forwarded_writes_total{result=\"ok\"}", "agenda_forwarded_writes_total{result=\"error\"}"} {
		if _, ok := before[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	if before["agenda_raft_state{state=\"Leader\"}"] != 1 {
		t.Errorf("a single node is not Leader in its metrics")
	}
	for i := 0; i < 5; i++ {
		c.do("POST", "/api/appointments", appointmentBody(fmt.Sprint(i), opsDay.Add(time.Duration(i)*time.Hour), 30*time.Minute)).expect(t, http.StatusCreated)
	}
	if err := n.raft.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.raw("POST", "/api/admin/projections/planning/rebuild", nil, map[string]string{"X-Audit-Token": testAuditToken}).expect(t, http.StatusAccepted)
	time.Sleep(300 * time.Millisecond)
	after := scrape(t, n)
	for _, name := range []string{"agenda_raft_commit_index", "agenda_raft_applied_index", "agenda_raft_apply_duration_seconds_count",
		"agenda_projection_position{projection=\"planning\"}", "agenda_raft_snapshot_duration_seconds_count", "agenda_audit_written_total"} {
		if after[name] <= before[name] {
			t.Errorf("%s did not move: %v → %v", name, before[name], after[name])
		}
	}
}

// scrape reads /metrics into series → value (histogram buckets left out).
func scrape(t *testing.T, n *Node) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' || strings.Contains(line, "_bucket{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		fmt.Sscan(line[i+1:], &v)
		out[line[:i]] = v
	}
	return out
}

// TestRestoreThenGrowACluster follows the README's way from a backup to a
// new cluster: restore, start the restored node alone, then start others
// with empty data dirs and DISCOVERY_SEEDS pointing at it. An operations
// review found the joiners ready with none of the restored history (it is
// in the event store, not in the new Raft log they were sent): the
// restored users could not log in on them, positions parted, and losing
// the restored node lost the data. The restored node now compacts its
// whole new log into a snapshot at its first start, so a joiner installs
// the snapshot, history and all.
func TestRestoreThenGrowACluster(t *testing.T) {
	srcCfg := testConfig(t, t.TempDir())
	src := startNode(t, srcCfg)
	cs := populate(t, src, 2, 3)
	head := src.store.Head()
	backup := filepath.Join(t.TempDir(), "agenda.backup")
	if code, err := runCLI("backup", "--out", backup, "--data-dir", srcCfg.DataDir, "--addr", src.HTTPAddr(),
		"--cluster-hmac-secret", srcCfg.ClusterSecret); code != 0 {
		t.Fatalf("backup: exit %d: %v", code, err)
	}
	src.Close()

	tc := newTestCluster(t, 1)
	n1 := tc.nodes[0]
	if code, err := runCLI("restore", "--from", backup, "--data-dir", n1.dataDir); code != 0 {
		t.Fatalf("restore: exit %d: %v", code, err)
	}
	n1.start()
	tc.waitStable(clusterTimeout, []*clusterNode{n1}, false)
	n2 := tc.addNode()
	n2.env["BOOTSTRAP_EXPECT"] = "0"
	n2.start()
	tc.waitStable(clusterTimeout, []*clusterNode{n1, n2}, false)
	tc.eventually(clusterTimeout, "the joiner holds the restored history", func() string {
		st, err := n2.status()
		if err != nil {
			return err.Error()
		}
		if st.Position < head {
			return fmt.Sprintf("%s at position %d, the restored history ends at %d", n2.id, st.Position, head)
		}
		return ""
	})
	// The restored users log in on the joiner, and see what they had.
	c := n2.client()
	r, err := c.send("POST", "/api/auth/login", map[string]any{"username": "ops00", "password": "password-ops00"})
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("restored user's login on the joiner: %v %d %s", err, r.Status, r.Body)
	}
	var login struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(r.Body, &login); err != nil || login.User.ID != cs[0].userID {
		t.Fatalf("restored user on the joiner: %s (%v), want ID %s", r.Body, err, cs[0].userID)
	}
	// Both nodes agree on every position: a new write lands at the same
	// one on both.
	c.token = login.Token
	w := mustCreateSlot(t, c, 500)
	tc.waitPosition(clusterTimeout, []*clusterNode{n1, n2}, w.Position)
	if w.Position <= head {
		t.Errorf("first write after the restore at position %d, want > %d", w.Position, head)
	}
	tc.stopAndCompareEventStores(nil, w.Position)
}
