package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	agendahttp "github.com/agendahq/agenda/http"
)

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
