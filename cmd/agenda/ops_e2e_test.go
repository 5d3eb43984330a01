package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agendahq/agenda/eventstore"
	agendahttp "github.com/agendahq/agenda/http"
	"github.com/agendahq/agenda/projections"
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

// waitAudit waits until the node's audit trail has an entry with action.
func waitAudit(t *testing.T, n *Node, c *client, action string) []auditLog {
	t.Helper()
	return waitAuditUntil(t, c, action, func(logs []auditLog) bool { return len(logs) > 0 })
}

// waitAuditUntil polls the entries of action until done accepts them, and
// returns them (the last ones read if it never does: the caller's checks
// then say what is missing). Entries are written behind the answers they
// describe, by the audit trail's own writer, so a client that has its
// answer may not find the entry yet.
func waitAuditUntil(t *testing.T, c *client, action string, done func([]auditLog) bool) []auditLog {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := auditLogs(t, c, "?action="+action+"&limit=1000")
		if done(logs) {
			return logs
		}
		if time.Now().After(deadline) {
			if len(logs) == 0 {
				t.Fatalf("no %s entry in the audit trail after 10s", action)
			}
			return logs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type auditLog struct {
	ID        int64          `json:"id"`
	At        time.Time      `json:"at"`
	NodeID    string         `json:"node_id"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Result    string         `json:"result"`
	RequestID string         `json:"request_id"`
	Details   map[string]any `json:"details"`
}

func auditLogs(t *testing.T, c *client, query string) []auditLog {
	t.Helper()
	var out struct {
		Logs []auditLog `json:"logs"`
	}
	c.raw("GET", "/api/admin/audit/logs"+query, nil, map[string]string{"X-Audit-Token": testAuditToken}).expect(t, http.StatusOK).JSON(t, &out)
	return out.Logs
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
	for _, q := range []string{"?limit=0", "?limit=abc", "?since=yesterday", "?cursor=-1"} {
		if r := c.raw("GET", "/api/admin/audit/logs"+q, nil, h); r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid" {
			t.Errorf("audit logs %s: %d %s, want 400 invalid", q, r.Status, r.Body)
		}
	}
	if r := c.raw("POST", "/api/admin/projections/nope/rebuild", nil, h); r.Status != http.StatusNotFound {
		t.Errorf("rebuild of an unknown projection: %d, want 404", r.Status)
	}
	if r := anon.raw("POST", "/api/admin/projections/planning/rebuild", nil, h); r.Status != http.StatusUnauthorized {
		t.Errorf("rebuild without JWT: %d, want 401", r.Status)
	}
}

// Every kind of action the node sees lands in the audit trail: commands
// accepted and refused (with actor, target, result, node and request ID),
// logins that succeed and fail, refused node-to-node requests, the node's
// start and its leader, snapshots and rebuilds; filters and paging work.
func TestAuditEntries(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.AuditToken = testAuditToken
	n := startNode(t, cfg)
	c := registerUser(t, n, "auditor")
	created := c.raw("POST", "/api/appointments", mustJSON(t, appointmentBody("Audited", opsDay, time.Hour)),
		map[string]string{"Content-Type": "application/json", "X-Request-ID": "req-audited-1"}).expect(t, http.StatusCreated)
	var a struct {
		ID string `json:"id"`
	}
	created.JSON(t, &a)
	c.do("POST", "/api/appointments", appointmentBody("Clash", opsDay.Add(30*time.Minute), time.Hour)).expect(t, http.StatusConflict)
	// Typed with a capital, the failure is recorded against the account
	// it stands for, so that a search for auditor's logins finds it.
	tryLogin(t, n, "Auditor", "wrong password").expect(t, http.StatusUnauthorized)
	// So is a registration refused for its capital.
	newClient(t, n).do("POST", "/api/auth/register", map[string]any{"username": "Newcomer", "password": "secret-password"}).
		expect(t, http.StatusBadRequest)
	// An unsigned node-to-node request.
	resp, err := http.Post(c.base+"/internal/propose", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := n.raft.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	c.raw("POST", "/api/admin/projections/users/rebuild", nil, map[string]string{"X-Audit-Token": testAuditToken}).expect(t, http.StatusAccepted)
	// HEAD is answered as GET, and recorded as the same action.
	c.raw("HEAD", "/api/admin/projections", nil, map[string]string{"X-Audit-Token": testAuditToken}).expect(t, http.StatusOK)
	headed := func(l auditLog) bool { return l.Details["method"] == "HEAD" }
	if logs := waitAuditUntil(t, c, "admin.projections", func(logs []auditLog) bool { return slices.ContainsFunc(logs, headed) }); !slices.ContainsFunc(logs, headed) {
		t.Errorf("HEAD /api/admin/projections is not recorded as admin.projections: %+v", logs)
	}

	ok := waitAuditUntil(t, c, "appointment.create", func(logs []auditLog) bool {
		return slices.ContainsFunc(logs, func(l auditLog) bool { return l.Result == "accepted" }) &&
			slices.ContainsFunc(logs, func(l auditLog) bool { return l.Result == "refused" })
	})
	var accepted, refused *auditLog
	for i := range ok {
		switch ok[i].Result {
		case "accepted":
			accepted = &ok[i]
		case "refused":
			refused = &ok[i]
		}
	}
	if accepted == nil || accepted.Actor != c.userID || accepted.Target != a.ID || accepted.NodeID != cfg.NodeID || accepted.RequestID != "req-audited-1" {
		t.Errorf("accepted command entry = %+v; want actor %s, target %s, node %s, request req-audited-1", accepted, c.userID, a.ID, cfg.NodeID)
	}
	if refused == nil || refused.Details["code"] != "schedule_conflict" || refused.Actor != c.userID {
		t.Errorf("refused command entry = %+v; want code schedule_conflict", refused)
	}
	results := map[string]bool{}
	logins := waitAuditUntil(t, c, "auth.login", func(logs []auditLog) bool {
		clear(results)
		for _, l := range logs {
			if l.Actor == "auditor" {
				results[l.Result] = true
			}
		}
		return results["success"] && results["failure"]
	})
	if !results["success"] || !results["failure"] {
		t.Errorf("login entries %+v; want a success and a failure for auditor", logins)
	}
	// The actor filter folds as the trail records: AUDITOR finds auditor.
	if got := auditLogs(t, c, "?actor=AUDITOR&action=auth.login&limit=1000"); len(got) < 2 {
		t.Errorf("?actor=AUDITOR found %d login entries, want auditor's two or more: %+v", len(got), got)
	}
	registers := waitAuditUntil(t, c, "user.register", func(logs []auditLog) bool {
		return slices.ContainsFunc(logs, func(l auditLog) bool { return l.Actor == "newcomer" })
	})
	if !slices.ContainsFunc(registers, func(l auditLog) bool { return l.Actor == "newcomer" && l.Result != "success" }) {
		t.Errorf("registration entries %+v; want the refused Newcomer recorded as newcomer", registers)
	}
	for _, action := range []string{"user.register", "cluster.auth_refused", "node.started", "cluster.leader_changed", "raft.snapshot", "projection.rebuild", "projection.rebuilt", "admin.audit_logs"} {
		waitAudit(t, n, c, action)
	}
	// Filters and paging.
	all := auditLogs(t, c, "?limit=1000")
	if len(all) < 10 {
		t.Fatalf("only %d audit entries", len(all))
	}
	var page struct {
		Logs []auditLog `json:"logs"`
		Next *int64     `json:"next_cursor"`
	}
	c.raw("GET", "/api/admin/audit/logs?limit=2", nil, map[string]string{"X-Audit-Token": testAuditToken}).expect(t, http.StatusOK).JSON(t, &page)
	if len(page.Logs) != 2 || page.Next == nil {
		t.Fatalf("first page of 2: %d entries, next %v", len(page.Logs), page.Next)
	}
	second := auditLogs(t, c, fmt.Sprintf("?limit=2&cursor=%d", *page.Next))
	if len(second) != 2 || second[0].ID >= page.Logs[1].ID {
		t.Errorf("second page %+v does not continue after %d", second, page.Logs[1].ID)
	}
	if got := auditLogs(t, c, "?actor="+c.userID+"&limit=1000"); len(got) == 0 {
		t.Error("actor filter found nothing")
	} else {
		for _, l := range got {
			if l.Actor != c.userID {
				t.Errorf("actor filter returned %+v", l)
			}
		}
	}
	if got := auditLogs(t, c, "?node=elsewhere"); len(got) != 0 {
		t.Errorf("node filter: %d entries of another node", len(got))
	}
	// A filter it does not know is refused, not ignored: a typo would
	// answer every entry as filtered (a review).
	expectError(t, c.raw("GET", "/api/admin/audit/logs?result=success", nil, map[string]string{"X-Audit-Token": testAuditToken}),
		http.StatusBadRequest, "invalid")
	// A request refused for its audit token is recorded under the action
	// its route names (an operations review found "GET /api/admin/*").
	c.raw("POST", "/api/admin/projections/planning/rebuild", nil, map[string]string{"X-Audit-Token": "wrong"}).expect(t, http.StatusForbidden)
	refusedRebuild := func(logs []auditLog) bool {
		return slices.ContainsFunc(logs, func(l auditLog) bool { return l.Result == "refused" })
	}
	if !refusedRebuild(waitAuditUntil(t, c, "projection.rebuild", refusedRebuild)) {
		t.Error("a rebuild refused for its audit token is not recorded as a refused projection.rebuild")
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if got := auditLogs(t, c, "?since="+future); len(got) != 0 {
		t.Errorf("since in the future: %d entries", len(got))
	}
}

// Found by an attacker's review: every refused request was a row of the
// audit trail, so a flood of requests without a token (3,700 a second from
// one connection), or from a free account, pushed the trail's oldest rows
// out past its cap, the evidence of a password guessed among them. A kind
// of refusal (who, action, status) is now recorded once a minute, the rest
// counted in one row when the minute is over (see http's
// TestRefusalThrottle); logins that reach the password check still make a
// row each, and a named user's refusal is never folded into an anonymous
// flood from the same address.
func TestRefusalsDoNotFloodTheAuditTrail(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.AuditToken = testAuditToken
	cfg.Limits = &agendahttp.Limits{LoginPerUser: agendahttp.Rate{Events: 3, Per: time.Minute}, LoginPerAddr: agendahttp.Rate{Events: 40, Per: time.Minute}}
	n := startNode(t, cfg)
	c := registerUser(t, n, "auditor")
	registerUser(t, n, "victim")
	anon := newClient(t, n)
	for range 200 {
		anon.do("POST", "/api/appointments", appointmentBody("Flood", opsDay, time.Hour)).expect(t, http.StatusUnauthorized)
	}
	flooder := registerUser(t, n, "flooder")
	for range 200 {
		flooder.do("POST", "/api/appointments/nope/accept", nil).expect(t, http.StatusNotFound)
	}
	c.do("POST", "/api/appointments/nope/accept", nil).expect(t, http.StatusNotFound) // auditor's own
	for i := range 30 {
		r := tryLogin(t, n, "victim", "guess")
		if want := map[bool]int{true: http.StatusUnauthorized, false: http.StatusTooManyRequests}[i < 3]; r.Status != want {
			t.Fatalf("guess %d: status %d, want %d", i+1, r.Status, want)
		}
	}
	// Refused for their rate, logins claiming a new name each are one
	// kind, the client's: the names are the request's to choose (a review
	// found 200 of them making 200 rows).
	rateLimited := 0
	for i := range 100 {
		if tryLogin(t, n, fmt.Sprintf("nobody%d", i), "guess").Status == http.StatusTooManyRequests {
			rateLimited++
		}
	}
	if rateLimited < 90 {
		t.Fatalf("%d of 100 logins refused for the address's rate, want 90 or more", rateLimited)
	}
	// The trail is written in order: once this command's row is in, so
	// are the rows of every request before it.
	c.do("POST", "/api/appointments", appointmentBody("Marker", opsDay, time.Hour)).expect(t, http.StatusCreated)
	creates := waitAuditUntil(t, c, "appointment.create", func(logs []auditLog) bool {
		return slices.ContainsFunc(logs, func(l auditLog) bool { return l.Actor == c.userID && l.Result == "accepted" })
	})
	anonymous := 0
	for _, l := range creates {
		if l.Actor == "" {
			anonymous++
		}
	}
	if anonymous != 1 {
		t.Errorf("200 anonymous refused creates made %d audit rows, want 1 (a minute's)", anonymous)
	}
	byActor := map[string]int{}
	for _, l := range auditLogs(t, c, "?action=appointment.accept&limit=1000") {
		byActor[l.Actor]++
	}
	if byActor[flooder.userID] != 1 || byActor[c.userID] != 1 {
		t.Errorf("rows of refused accepts by actor: %v; want one for the flooder's 200 and one for the auditor's own", byActor)
	}
	byStatus := map[float64]int{}
	for _, l := range auditLogs(t, c, "?action=auth.login&actor=victim&limit=1000") {
		status, _ := l.Details["status"].(float64)
		byStatus[status]++
	}
	if byStatus[http.StatusUnauthorized] != 3 || byStatus[http.StatusTooManyRequests] != 1 {
		t.Errorf("rows of victim's 3 guesses checked and 27 refused for the rate: %v by status, want 3 of 401 and 1 of 429", byStatus)
	}
	limitedRows := 0
	for _, l := range auditLogs(t, c, "?action=auth.login&limit=1000") {
		if status, _ := l.Details["status"].(float64); status == http.StatusTooManyRequests {
			limitedRows++
		}
	}
	if limitedRows != 1 {
		t.Errorf("%d rows of logins refused for their rate, from one client under many names, want 1 (the minute's first)", limitedRows)
	}
}

// A node stopping writes the count of the refusals its audit throttle still
// holds back (a review found a clean stop losing it).
func TestHeldBackRefusalsAreCountedAtStop(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.AuditToken = testAuditToken
	n := startNode(t, cfg)
	anon := newClient(t, n)
	for range 5 {
		anon.do("POST", "/api/appointments", appointmentBody("Flood", opsDay, time.Hour)).expect(t, http.StatusUnauthorized)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	n = startNode(t, cfg)
	c := registerUser(t, n, "auditor")
	var counted []any
	for _, l := range auditLogs(t, c, "?action=appointment.create&limit=1000") {
		if l.Actor == "" && l.Details["suppressed"] != nil {
			counted = append(counted, l.Details["suppressed"])
		}
	}
	if len(counted) != 1 || counted[0] != float64(4) {
		t.Fatalf("summaries of the refusals held back at the stop: %v, want one counting 4", counted)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
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

// An online rebuild over HTTP while clients keep writing and reading on the
// node: no read fails, a second rebuild is refused with 409, the status
// shows the rebuild, and afterwards the read model is identical, table by
// table, to one projected from scratch.
func TestOnlineRebuildOverHTTPUnderLoad(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.AuditToken = testAuditToken
	n := startNode(t, cfg)
	cs := populate(t, n, 4, 60)
	admin := map[string]string{"X-Audit-Token": testAuditToken}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures atomic.Int64
	var firstFailure atomic.Value
	var writes, reads atomic.Int64
	fail := func(format string, args ...any) {
		failures.Add(1)
		firstFailure.CompareAndSwap(nil, fmt.Sprintf(format, args...))
	}
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c *client) {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					fail("%v", r)
				}
			}()
			cc := *c
			cc.t = &nopT{TB: t}
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				start := opsDay.Add(time.Duration(100+j)*24*time.Hour + time.Duration(i)*time.Hour)
				res := cc.do("POST", "/api/appointments", appointmentBody("load", start, 30*time.Minute))
				if res.Status != http.StatusCreated {
					fail("write: %d %s", res.Status, res.Body)
					return
				}
				writes.Add(1)
				// Read-your-write, and the history from before the rebuild.
				res = cc.do("GET", agendaPath(opsDay, opsDay.Add(200*24*time.Hour))+"&min_position="+res.Header.Get("X-Agenda-Position"), nil)
				if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "#59") || !strings.Contains(string(res.Body), start.Format(time.RFC3339)) {
					fail("read during the rebuild: %d %.300s", res.Status, res.Body)
					return
				}
				reads.Add(1)
			}
		}(i, c)
	}
	time.Sleep(100 * time.Millisecond)
	cs[0].raw("POST", "/api/admin/projections/planning/rebuild", nil, admin).expect(t, http.StatusAccepted)
	// A second rebuild while one runs is a conflict. On a fast machine the
	// first (600 events) may already have ended; then the second starts,
	// and must have started after the first ended.
	// (TestASecondRebuildWhileOneRunsIsAConflict holds one running.)
	var second *projections.RebuildProgress
	switch r := cs[0].raw("POST", "/api/admin/projections/users/rebuild", nil, admin); r.Status {
	case http.StatusConflict:
	case http.StatusAccepted:
		second = new(projections.RebuildProgress)
		r.JSON(t, second)
		t.Logf("the first rebuild had ended before the second was asked for")
	default:
		t.Errorf("second rebuild while one runs: %d %s, want 409", r.Status, r.Body)
	}
	var done bool
	deadline := time.Now().Add(2 * time.Minute)
	for !done && time.Now().Before(deadline) {
		var st struct {
			Projections []struct {
				Name        string                       `json:"name"`
				LastRebuild *projections.RebuildProgress `json:"last_rebuild"`
			} `json:"projections"`
		}
		cs[0].raw("GET", "/api/admin/projections", nil, admin).expect(t, http.StatusOK).JSON(t, &st)
		for _, p := range st.Projections {
			if p.Name == "planning" && p.LastRebuild != nil {
				if p.LastRebuild.State != "done" {
					t.Fatalf("rebuild ended %+v", p.LastRebuild)
				}
				if second != nil && p.LastRebuild.FinishedAt.After(second.StartedAt) {
					t.Fatalf("a second rebuild started at %s while the first ran until %s", second.StartedAt, p.LastRebuild.FinishedAt)
				}
				done = true
			}
		}
		for _, p := range st.Projections {
			if second != nil && p.Name == "users" && (p.LastRebuild == nil || p.LastRebuild.State != "done") {
				done = false
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !done {
		t.Fatal("the rebuild did not finish within 2 minutes")
	}
	time.Sleep(100 * time.Millisecond) // writes go on after the switch
	close(stop)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d requests failed during the rebuild; first: %v", failures.Load(), firstFailure.Load())
	}
	t.Logf("%d writes and %d reads during the rebuild", writes.Load(), reads.Load())
	head := n.store.Head()
	n.Close()

	// The reference: a fresh projector over the same event store.
	ctx := context.Background()
	store, err := eventstore.Open(ctx, filepath.Join(cfg.DataDir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	refPath := filepath.Join(t.TempDir(), "reference.db")
	ref, err := readmodel.Open(ctx, refPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := projections.New(store, ref, projections.All(), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	go p.Run(ctx)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := ref.WaitFor(wctx, head); err != nil {
		t.Fatal(err)
	}
	p.Close()
	want, _ := ref.Digest(ctx)
	ref.Close()
	got := digest(t, filepath.Join(cfg.DataDir, "readmodel.db"))
	for table, d := range want {
		if got[table] != d {
			t.Errorf("table %s after the online rebuild: %s, want %s", table, got[table], d)
		}
	}
}

// nopT lets a helper that fails through t.Fatal run on a goroutine that
// reports failures itself: Fatalf panics instead of calling Goexit.
type nopT struct{ testing.TB }

func (n *nopT) Helper()                   {}
func (n *nopT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (n *nopT) Fatal(a ...any)            { panic(fmt.Sprint(a...)) }

// A read model written with another schema version (a changed projection)
// is rebuilt by the node at start: `projections status` says so before,
// and afterwards every user sees what they saw.
func TestOutdatedReadModelRebuildsAtStart(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	cs := populate(t, n, 3, 3)
	want := views(t, cs)
	n.Close()

	path := filepath.Join(cfg.DataDir, "readmodel.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", readmodel.SchemaVersion-1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err := readmodel.Inspect(context.Background(), path)
	if err != nil || st.SchemaOK || !st.Exists {
		t.Fatalf("Inspect of an outdated read model = %+v, %v; want it to exist with the wrong schema", st, err)
	}

	n = startNode(t, cfg)
	for _, c := range cs {
		c.base = "http://" + n.HTTPAddr()
	}
	got := views(t, cs)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("after the rebuild at start, %s:\n got %s\nwant %s", k, got[k], w)
		}
	}
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
