package main

// End-to-end scenarios of groups (issue 3), each played by several people on
// one real node through HTTP: a hierarchy imposing and inviting, a flat
// study group confirming and cancelling, privacy in group agendas, schedule
// conflicts across people, free slots, a group's life from creation to
// deletion with its notifications, an organiser moving and cancelling, and
// what someone outside a group or an appointment can learn (nothing).
//
// Every read asks for the position of the scenario's last write
// (min_position), so each step sees what the steps before it wrote.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/mattn/go-sqlite3"
)

// ---------------------------------------------------------------------------
// Scenario plumbing.

// groupPlay is one scenario: its node, the people in it (for messages) and
// the position of its last write, which every read waits for.
type groupPlay struct {
	n     *Node
	pos   int64
	names map[string]string // user ID → username
}

func newGroupPlay(t *testing.T) *groupPlay {
	t.Helper()
	return &groupPlay{n: mustStartNode(t), names: map[string]string{}}
}

// user registers a person.
func (g *groupPlay) user(t testing.TB, name string) *client {
	t.Helper()
	c := registerUser(t, g.n, name)
	g.names[c.userID] = name
	return c
}

func (g *groupPlay) who(c *client) string { return g.names[c.userID] }

// write sends a request that must succeed with status, and remembers the
// position it answers.
func (g *groupPlay) write(t testing.TB, c *client, method, path string, body any, status int) *response {
	t.Helper()
	r := c.withT(t).do(method, path, body)
	if r.Status != status {
		t.Fatalf("%s %s as %s: status = %d, want %d; body: %s", method, path, g.who(c), r.Status, status, r.Body)
	}
	if p := positionOf(t, r); p > g.pos {
		g.pos = p
	}
	g.answerIsTheStateWritten(t, c, path, r)
	return r
}

// answerIsTheStateWritten checks that the resource a write answers with
// (appointment, group, membership) is the resource as stored right after it: scenarios write one thing at
// a time, so a read at the write's position must show exactly the answer
// (which commands build from their own events, not from a read-back).
func (g *groupPlay) answerIsTheStateWritten(t testing.TB, c *client, path string, r *response) {
	t.Helper()
	if len(r.Body) == 0 || r.Status == http.StatusNoContent {
		return
	}
	body := json.RawMessage(r.Body)
	parts := strings.Split(strings.TrimPrefix(path, "/api/"), "/")
	// readPath is where the resource the write answered with is read.
	var readPath func(answered map[string]any) string
	switch {
	case parts[0] == "appointments" && len(parts) == 3: // accept, decline
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body = m["appointment"]
		readPath = func(a map[string]any) string { return "/api/appointments/" + a["id"].(string) }
	case parts[0] == "appointments", parts[0] == "groups" && len(parts) == 3 && parts[2] == "appointments":
		readPath = func(a map[string]any) string { return "/api/appointments/" + a["id"].(string) }
	case parts[0] == "groups" && len(parts) <= 2: // create, change
		readPath = func(a map[string]any) string { return "/api/groups/" + a["id"].(string) }
	case parts[0] == "groups" && len(parts) >= 3 && (parts[2] == "members" || parts[2] == "accept"):
		readPath = func(a map[string]any) string { return "/api/groups/" + parts[1] + "/members/" + a["user_id"].(string) }
	default:
		return
	}
	var answered map[string]any
	if err := json.Unmarshal(body, &answered); err != nil {
		t.Fatalf("%s: answer is not a resource: %v", path, err)
	}
	at := readPath(answered)
	stored := c.withT(t).do("GET", at+"?min_position="+strconv.FormatInt(positionOf(t, r), 10), nil)
	if stored.Status != http.StatusOK {
		t.Fatalf("GET %s after %s: %d %s", at, path, stored.Status, stored.Body)
	}
	var read map[string]any
	stored.JSON(t, &read)
	if !reflect.DeepEqual(answered, read) {
		t.Fatalf("%s answered\n%s\nbut %s as stored right after it is\n%s", path, body, at, stored.Body)
	}
	if et := r.Header.Get("ETag"); et != "" && et != stored.Header.Get("ETag") {
		t.Fatalf("%s answered ETag %s, %s has %s", path, et, at, stored.Header.Get("ETag"))
	}
}

// refuse sends a request that must fail with status and code and leave no
// trace in the event store or the read model; it returns the error.
func (g *groupPlay) refuse(t testing.TB, c *client, method, path string, body any, status int, code string) (apiError, *response) {
	t.Helper()
	before := traceOf(t, g.n)
	r := c.withT(t).do(method, path, body)
	if r.Status != status || r.ErrorCode() != code {
		t.Fatalf("%s %s as %s: %d %q, want %d %q; body: %s", method, path, g.who(c), r.Status, r.ErrorCode(), status, code, r.Body)
	}
	e := expectError(t, r, status, code)
	expectNoTrace(t, g.n, before)
	return e, r
}

// get reads path as c at the scenario's last write position.
func (g *groupPlay) get(t testing.TB, c *client, path string) *response {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return c.withT(t).do("GET", path+sep+"min_position="+strconv.FormatInt(g.pos, 10), nil)
}

// read reads path as c, expects 200 and decodes the body into v.
func (g *groupPlay) read(t testing.TB, c *client, path string, v any) []byte {
	t.Helper()
	r := g.get(t, c, path)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s as %s: status = %d, want 200; body: %s", path, g.who(c), r.Status, r.Body)
	}
	if v != nil {
		r.JSON(t, v)
	}
	return r.Body
}

// notFound expects GET path as c to answer 404 not_found.
func (g *groupPlay) notFound(t testing.TB, c *client, path string) *response {
	t.Helper()
	r := g.get(t, c, path)
	if r.Status != http.StatusNotFound {
		t.Fatalf("GET %s as %s: status = %d, want 404; body: %s", path, g.who(c), r.Status, r.Body)
	}
	expectError(t, r, http.StatusNotFound, "not_found")
	return r
}

// ---------------------------------------------------------------------------
// Resources.

// apiGroup is the contract's Group.
type apiGroup struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	Description  string      `json:"description"`
	Hierarchical bool        `json:"hierarchical"`
	CreatorID    string      `json:"creator_id"`
	MyRank       int         `json:"my_rank"`
	MemberCount  int         `json:"member_count"`
	Members      []apiMember `json:"members"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
	Version      int64       `json:"version"`
	OriginNode   string      `json:"origin_node"`
}

// apiMember is one member of a group.
type apiMember struct {
	UserID     string    `json:"user_id"`
	Username   string    `json:"username"`
	Rank       int       `json:"rank"`
	Status     string    `json:"status"`
	JoinedAt   time.Time `json:"joined_at"`
	Version    int64     `json:"version"`
	OriginNode string    `json:"origin_node"`
}

var (
	groupKeys  = []string{"id", "name", "description", "hierarchical", "creator_id", "my_rank", "member_count", "created_at", "updated_at", "version", "origin_node"}
	memberKeys = []string{"user_id", "username", "rank", "status", "joined_at", "version", "origin_node"}
)

// decodeGroup checks that body is exactly a Group (with members if one group
// was read, without them in a list) and decodes it.
func decodeGroup(t testing.TB, body []byte, withMembers bool) apiGroup {
	t.Helper()
	keys := groupKeys
	if withMembers {
		keys = append(slices.Clone(groupKeys), "members")
	}
	m := expectKeys(t, body, keys...)
	if withMembers {
		var members []json.RawMessage
		if err := json.Unmarshal(m["members"], &members); err != nil {
			t.Fatalf("members = %s: %v", m["members"], err)
		}
		for _, mb := range members {
			decodeMember(t, mb)
		}
	}
	var g apiGroup
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatalf("decode group %s: %v", body, err)
	}
	if _, err := uuid.Parse(g.ID); err != nil || g.OriginNode == "" || g.Version < 1 {
		t.Fatalf("group without a UUID, origin_node or version: %s", body)
	}
	return g
}

// decodeMember checks that body is exactly a Member and decodes it.
func decodeMember(t testing.TB, body []byte) apiMember {
	t.Helper()
	m := expectKeys(t, body, memberKeys...)
	if s := rawString(t, m, "joined_at"); !strings.HasSuffix(s, "Z") {
		t.Fatalf("joined_at = %q, want UTC", s)
	}
	var mb apiMember
	if err := json.Unmarshal(body, &mb); err != nil {
		t.Fatalf("decode member %s: %v", body, err)
	}
	if mb.Version < 1 || mb.OriginNode == "" {
		t.Fatalf("member without version or origin_node: %s", body)
	}
	return mb
}

// ranks renders members as "username:rank", in order.
func ranks(members []apiMember) []string {
	out := []string{}
	for _, m := range members {
		out = append(out, fmt.Sprintf("%s:%d", m.Username, m.Rank))
	}
	return out
}

// statuses renders an appointment's participants as "username:status", in
// the order answered.
func statuses(a apiAppointment) []string {
	out := []string{}
	for _, p := range a.Participants {
		out = append(out, p.Username+":"+p.Status)
	}
	return out
}

var agendaEntryKeys = []string{"appointment_id", "group_id", "title", "description", "location", "start", "end",
	"privacy", "status", "my_status", "pending", "version", "origin_node"}

// agenda reads c's agenda for [from, to), checking each entry's shape.
func (g *groupPlay) agenda(t testing.TB, c *client, from, to time.Time) []apiEntry {
	t.Helper()
	var raw []json.RawMessage
	g.read(t, c, agendaPath(from, to), &raw)
	out := []apiEntry{}
	for _, r := range raw {
		expectKeys(t, r, agendaEntryKeys...)
		var e apiEntry
		if err := json.Unmarshal(r, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// entryLines renders agenda entries as "title my_status status pending".
func entryLines(entries []apiEntry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s %s-%s %s/%s pending=%v", e.Title, e.Start.Format("15:04"), e.End.Format("15:04"),
			e.MyStatus, e.Status, e.Pending))
	}
	return out
}

// expectAgenda fails unless c's agenda on [from, to) renders as want.
func (g *groupPlay) expectAgenda(t testing.TB, c *client, from, to time.Time, want ...string) []apiEntry {
	t.Helper()
	entries := g.agenda(t, c, from, to)
	if got := entryLines(entries); !slices.Equal(got, append([]string{}, want...)) {
		t.Fatalf("agenda of %s [%s, %s) =\n  %q\nwant\n  %q", g.who(c), from.Format("15:04"), to.Format("15:04"), got, want)
	}
	return entries
}

// invitations lists the IDs of c's pending invitations, checking each is an
// Appointment with my_status pending.
func (g *groupPlay) invitations(t testing.TB, c *client) []string {
	t.Helper()
	var raw []json.RawMessage
	g.read(t, c, "/api/invitations", &raw)
	ids := []string{}
	for _, r := range raw {
		a := decodeAppointment(t, &response{Body: r})
		if a.MyStatus != "pending" || a.Status == "cancelled" {
			t.Fatalf("invitation of %s with my_status %q, status %q: %s", g.who(c), a.MyStatus, a.Status, r)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

func (g *groupPlay) expectInvitations(t testing.TB, c *client, want ...string) {
	t.Helper()
	if got := g.invitations(t, c); !slices.Equal(got, append([]string{}, want...)) {
		t.Fatalf("invitations of %s = %v, want %v", g.who(c), got, want)
	}
}

// appointment reads appointment id as c.
func (g *groupPlay) appointment(t testing.TB, c *client, id string) apiAppointment {
	t.Helper()
	r := g.get(t, c, "/api/appointments/"+id)
	if r.Status != http.StatusOK {
		t.Fatalf("GET appointment %s as %s: %d; body: %s", id, g.who(c), r.Status, r.Body)
	}
	return decodeAppointment(t, r)
}

// apiParticipation is the answer to accept and decline.
type apiParticipation struct {
	AppointmentID string
	UserID        string
	Status        string
	Appointment   apiAppointment
}

// answer accepts or declines (verb) appointment id as c, expecting 200.
func (g *groupPlay) answer(t testing.TB, c *client, id, verb string) apiParticipation {
	t.Helper()
	r := g.write(t, c, "POST", "/api/appointments/"+id+"/"+verb, nil, http.StatusOK)
	m := expectKeys(t, r.Body, "appointment_id", "user_id", "status", "appointment")
	p := apiParticipation{
		AppointmentID: rawString(t, m, "appointment_id"), UserID: rawString(t, m, "user_id"), Status: rawString(t, m, "status"),
		Appointment: decodeAppointment(t, &response{Body: m["appointment"]}),
	}
	if p.AppointmentID != id || p.UserID != c.userID || p.Appointment.ID != id || p.Appointment.MyStatus != p.Status {
		t.Fatalf("%s as %s answered %+v", verb, g.who(c), p)
	}
	return p
}

// apiNotification is one notification.
type apiNotification struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Payload    map[string]any `json:"payload"`
	CreatedAt  time.Time      `json:"created_at"`
	ReadAt     *time.Time     `json:"read_at"`
	Position   int64          `json:"position"`
	Version    int64          `json:"version"`
	OriginNode string         `json:"origin_node"`
}

var notificationKeys = []string{"id", "type", "payload", "created_at", "read_at", "position", "version", "origin_node"}

// notifications reads c's notifications (query: "", "?unread=true", ...),
// checking each one's shape.
func (g *groupPlay) notifications(t testing.TB, c *client, query string) []apiNotification {
	t.Helper()
	var raw []json.RawMessage
	g.read(t, c, "/api/notifications"+query, &raw)
	out := []apiNotification{}
	for _, r := range raw {
		expectKeys(t, r, notificationKeys...)
		var n apiNotification
		if err := json.Unmarshal(r, &n); err != nil {
			t.Fatal(err)
		}
		if _, err := uuid.Parse(n.ID); err != nil || n.Position < 1 || n.Version < 1 || n.OriginNode == "" {
			t.Fatalf("notification of %s without id, position, version or origin: %s", g.who(c), r)
		}
		out = append(out, n)
	}
	return out
}

// note is an expected notification: its type and exact payload.
type note struct {
	Type    string
	Payload map[string]any
}

// expectNotes fails unless c's notifications, newest first, are exactly
// want (types and payloads).
func (g *groupPlay) expectNotes(t testing.TB, c *client, want ...note) []apiNotification {
	t.Helper()
	got := g.notifications(t, c, "")
	render := func(ns []note) string {
		var b strings.Builder
		for _, n := range ns {
			p, _ := json.Marshal(n.Payload)
			fmt.Fprintf(&b, "\n  %s %s", n.Type, p)
		}
		return b.String()
	}
	var gotNotes []note
	for _, n := range got {
		gotNotes = append(gotNotes, note{n.Type, n.Payload})
	}
	var wantNotes []note
	for _, n := range want {
		wantNotes = append(wantNotes, g.roundTrip(n))
	}
	if !reflect.DeepEqual(gotNotes, wantNotes) {
		t.Fatalf("notifications of %s, newest first:%s\nwant:%s", g.who(c), render(gotNotes), render(wantNotes))
	}
	return got
}

// roundTrip passes n's payload through JSON, so that numbers compare as
// float64 with a decoded one.
func (g *groupPlay) roundTrip(n note) note {
	b, _ := json.Marshal(n.Payload)
	var p map[string]any
	json.Unmarshal(b, &p)
	return note{n.Type, p}
}

// apptNote is the payload of a notification about appointment a.
func apptNote(a apiAppointment, status, by string, extra ...any) map[string]any {
	p := map[string]any{"appointment_id": a.ID, "title": a.Title, "start": rfc(a.Start), "end": rfc(a.End),
		"organiser_id": a.OwnerID, "status": status, "by": by}
	if a.GroupID != nil {
		p["group_id"] = *a.GroupID
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i].(string)] = extra[i+1]
	}
	return p
}

// groupNote is the payload of a membership notification.
func groupNote(grp apiGroup, name, by, userID string, extra ...any) map[string]any {
	p := map[string]any{"group_id": grp.ID, "group_name": name, "by": by, "user_id": userID}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i].(string)] = extra[i+1]
	}
	return p
}

// createGroup creates a group as c and checks the answer.
func (g *groupPlay) createGroup(t testing.TB, c *client, name string, hierarchical bool) apiGroup {
	t.Helper()
	r := g.write(t, c, "POST", "/api/groups", map[string]any{"name": name, "hierarchical": hierarchical}, http.StatusCreated)
	grp := decodeGroup(t, r.Body, true)
	if got, want := r.Header.Get("Location"), "/api/groups/"+grp.ID; got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
	expectETag(t, r, grp.Version)
	top := 0
	if hierarchical {
		top = 1000
	}
	if grp.Name != name || grp.Hierarchical != hierarchical || grp.CreatorID != c.userID || grp.MyRank != top ||
		grp.MemberCount != 1 || !slices.Equal(ranks(grp.Members), []string{fmt.Sprintf("%s:%d", g.who(c), top)}) {
		t.Fatalf("created group = %+v", grp)
	}
	return grp
}

// invite invites who to grp as c with body (user_id or username, rank) and
// checks the invitation answered: a member with status invited.
func (g *groupPlay) invite(t testing.TB, c *client, grp apiGroup, who *client, body map[string]any, wantRank int) apiMember {
	t.Helper()
	r := g.write(t, c, "POST", "/api/groups/"+grp.ID+"/members", body, http.StatusCreated)
	m := decodeMember(t, r.Body)
	if m.UserID != who.userID || m.Username != g.who(who) || m.Rank != wantRank || m.Status != "invited" {
		t.Fatalf("invited member = %+v, want %s invited with rank %d", m, g.who(who), wantRank)
	}
	expectETag(t, r, m.Version)
	return m
}

// accept accepts who's invitation to grp and checks the membership
// answered: status active.
func (g *groupPlay) accept(t testing.TB, who *client, grp apiGroup, wantRank int) apiMember {
	t.Helper()
	r := g.write(t, who, "POST", "/api/groups/"+grp.ID+"/accept", nil, http.StatusOK)
	m := decodeMember(t, r.Body)
	if m.UserID != who.userID || m.Rank != wantRank || m.Status != "active" {
		t.Fatalf("accepted member = %+v, want %s active with rank %d", m, g.who(who), wantRank)
	}
	expectETag(t, r, m.Version)
	return m
}

// addMember adds who to grp as c with body (user_id or username, rank):
// membership is by consent, so c invites and who accepts. It returns the
// active member.
func (g *groupPlay) addMember(t testing.TB, c *client, grp apiGroup, who *client, body map[string]any, wantRank int) apiMember {
	t.Helper()
	g.invite(t, c, grp, who, body, wantRank)
	return g.accept(t, who, grp, wantRank)
}

// groupAppointment creates a group appointment as c.
func (g *groupPlay) groupAppointment(t testing.TB, c *client, grp apiGroup, body map[string]any) apiAppointment {
	t.Helper()
	r := g.write(t, c, "POST", "/api/groups/"+grp.ID+"/appointments", body, http.StatusCreated)
	a := decodeAppointment(t, r)
	if got, want := r.Header.Get("Location"), "/api/appointments/"+a.ID; got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
	if a.GroupID == nil || *a.GroupID != grp.ID || a.OwnerID != c.userID || a.MyStatus != "owner" {
		t.Fatalf("group appointment = %+v, want one of group %s owned by %s", a, grp.ID, g.who(c))
	}
	return a
}

// personal books a personal appointment for c.
func (g *groupPlay) personal(t testing.TB, c *client, body map[string]any) apiAppointment {
	t.Helper()
	return decodeAppointment(t, g.write(t, c, "POST", "/api/appointments", body, http.StatusCreated))
}

func slot(title string, start, end time.Time, more ...string) map[string]any {
	b := map[string]any{"title": title, "start": rfc(start), "end": rfc(end)}
	for i := 0; i+1 < len(more); i += 2 {
		b[more[i]] = more[i+1]
	}
	return b
}

// conflictsOf returns details.conflicts of a schedule_conflict, checking
// that the caller's own slots carry {user_id, appointment_id, title, start,
// end} and everyone else's exactly {user_id, start, end, busy}.
func conflictsOf(t testing.TB, e apiError, caller string) []map[string]any {
	t.Helper()
	raw, _ := json.Marshal(e.Details["conflicts"])
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		t.Fatalf("details.conflicts = %s, want a non-empty list", raw)
	}
	out := []map[string]any{}
	for _, r := range list {
		var m map[string]any
		json.Unmarshal(r, &m)
		if m["user_id"] == caller {
			expectKeys(t, r, "user_id", "appointment_id", "title", "start", "end")
		} else {
			expectKeys(t, r, "user_id", "start", "end", "busy")
		}
		out = append(out, m)
	}
	return out
}

// ---------------------------------------------------------------------------
// Scenarios.

// TestE2EGroupsHierarchyImposes: a director's department; one head of
// department sets a meeting. The three people below the head have it in
// their agendas at once (auto, not pending, blocking); the director above
// and the other head at the same rank get invitations instead. Everyone is
// told, and the head hears of each answer.
func TestE2EGroupsHierarchyImposes(t *testing.T) {
	g := newGroupPlay(t)
	dora := g.user(t, "dora") // director: creates the department, rank 1000
	hugo := g.user(t, "hugo") // head of department, rank 500, organises
	pia := g.user(t, "pia")   // another head, rank 500: level with the organiser
	sam := g.user(t, "sam")   // rank 100
	sue := g.user(t, "sue")   // rank 100
	syd := g.user(t, "syd")   // rank 0 (the default)

	dept := g.createGroup(t, dora, "Engineering", true)
	gp := "/api/groups/" + dept.ID
	g.addMember(t, dora, dept, hugo, map[string]any{"username": "hugo", "rank": 500}, 500)
	g.addMember(t, dora, dept, pia, map[string]any{"user_id": pia.userID, "rank": 500}, 500)
	g.addMember(t, dora, dept, sam, map[string]any{"user_id": sam.userID, "rank": 100}, 100)
	g.addMember(t, dora, dept, sue, map[string]any{"username": "sue", "rank": 100}, 100)
	g.addMember(t, dora, dept, syd, map[string]any{"user_id": syd.userID}, 0)

	// The department as its lowest member sees it: most senior first.
	r := g.get(t, syd, gp).expect(t, http.StatusOK)
	got := decodeGroup(t, r.Body, true)
	expectETag(t, r, got.Version)
	if want := []string{"dora:1000", "hugo:500", "pia:500", "sam:100", "sue:100", "syd:0"}; !slices.Equal(ranks(got.Members), want) {
		t.Fatalf("members = %v, want %v", ranks(got.Members), want)
	}
	if got.MyRank != 0 || got.MemberCount != 6 || got.CreatorID != dora.userID || !got.Hierarchical {
		t.Fatalf("group as syd = %+v", got)
	}
	var list []json.RawMessage
	g.read(t, syd, "/api/groups", &list)
	if len(list) != 1 {
		t.Fatalf("syd's groups = %d, want 1", len(list))
	}
	if lg := decodeGroup(t, list[0], false); lg.ID != dept.ID || lg.MyRank != 0 || lg.MemberCount != 6 {
		t.Fatalf("syd's group in the list = %+v", lg)
	}

	// Hugo sets the meeting.
	meeting := g.groupAppointment(t, hugo, dept, slot("Quarterly planning", at(9, 0), at(10, 30),
		"description", "bring the numbers", "location", "Room 1"))
	if meeting.Status != "confirmed" || meeting.Privacy != "full" || meeting.Description != "bring the numbers" || meeting.Location != "Room 1" {
		t.Fatalf("meeting = %+v", meeting)
	}
	wantParts := []string{"dora:pending", "hugo:owner", "pia:pending", "sam:auto", "sue:auto", "syd:auto"}
	if got := statuses(meeting); !slices.Equal(got, wantParts) {
		t.Fatalf("participants = %v, want %v", got, wantParts)
	}
	morning, noon := at(8, 0), at(12, 0)

	// Below the organiser: in the agenda at once, imposed, not an invitation.
	for _, c := range []*client{sam, sue, syd} {
		entries := g.expectAgenda(t, c, morning, noon, "Quarterly planning 09:00-10:30 auto/confirmed pending=false")
		if entries[0].AppointmentID != meeting.ID {
			t.Fatalf("%s's entry is %s, want %s", g.who(c), entries[0].AppointmentID, meeting.ID)
		}
		g.expectInvitations(t, c)
		if a := g.appointment(t, c, meeting.ID); a.MyStatus != "auto" || a.Status != "confirmed" || !slices.Equal(statuses(a), wantParts) {
			t.Fatalf("meeting as %s = %+v", g.who(c), a)
		}
	}
	// Level with or above the organiser: an invitation, pending in the agenda.
	for _, c := range []*client{dora, pia} {
		g.expectAgenda(t, c, morning, noon, "Quarterly planning 09:00-10:30 pending/confirmed pending=true")
		g.expectInvitations(t, c, meeting.ID)
	}
	g.expectAgenda(t, hugo, morning, noon, "Quarterly planning 09:00-10:30 owner/confirmed pending=false")

	// Who was told what.
	imposed := note{"imposed", apptNote(meeting, "confirmed", hugo.userID)}
	invited := note{"invitation", apptNote(meeting, "confirmed", hugo.userID)}
	// Membership is by consent: each was invited by dora, and dora heard
	// of each acceptance.
	added := func(c *client, rank int) note {
		return note{"group_invitation", map[string]any{"group_id": dept.ID, "group_name": "Engineering", "by": dora.userID,
			"rank": rank, "hierarchical": true}}
	}
	joined := func(c *client, rank int) note {
		return note{"member_added", groupNote(dept, "Engineering", c.userID, c.userID, "rank", rank)}
	}
	g.expectNotes(t, sam, imposed, added(sam, 100))
	g.expectNotes(t, sue, imposed, added(sue, 100))
	g.expectNotes(t, syd, imposed, added(syd, 0))
	g.expectNotes(t, pia, invited, added(pia, 500))
	g.expectNotes(t, dora, invited, joined(syd, 0), joined(sue, 100), joined(sam, 100), joined(pia, 500), joined(hugo, 500))
	g.expectNotes(t, hugo, added(hugo, 500))

	// Imposed time blocks: syd cannot book over it, and sees why in full.
	e, _ := g.refuse(t, syd, "POST", "/api/appointments", slot("Gym", at(10, 0), at(11, 0)), http.StatusConflict, "schedule_conflict")
	cs := conflictsOf(t, e, syd.userID)
	if len(cs) != 1 || cs[0]["appointment_id"] != meeting.ID || cs[0]["title"] != "Quarterly planning" ||
		cs[0]["start"] != rfc(at(9, 0)) || cs[0]["end"] != rfc(at(10, 30)) {
		t.Fatalf("conflicts = %v, want the meeting", cs)
	}
	// An imposed meeting cannot be answered.
	g.refuse(t, sam, "POST", "/api/appointments/"+meeting.ID+"/accept", nil, http.StatusConflict, "conflict")
	g.refuse(t, sam, "POST", "/api/appointments/"+meeting.ID+"/decline", nil, http.StatusConflict, "conflict")

	// Pia accepts: it becomes blocking time of hers, and hugo hears of it.
	p := g.answer(t, pia, meeting.ID, "accept")
	if p.Status != "accepted" || p.Appointment.Status != "confirmed" {
		t.Fatalf("accept = %+v", p)
	}
	g.expectAgenda(t, pia, morning, noon, "Quarterly planning 09:00-10:30 accepted/confirmed pending=false")
	g.expectInvitations(t, pia)
	g.expectNotes(t, hugo, note{"accepted", apptNote(meeting, "confirmed", pia.userID, "user_id", pia.userID)}, added(hugo, 500))

	// Dora declines: it leaves her agenda; she can still read it.
	p = g.answer(t, dora, meeting.ID, "decline")
	if p.Status != "declined" || p.Appointment.Status != "confirmed" {
		t.Fatalf("decline = %+v", p)
	}
	g.expectAgenda(t, dora, morning, noon)
	g.expectInvitations(t, dora)
	a := g.appointment(t, dora, meeting.ID)
	wantParts = []string{"dora:declined", "hugo:owner", "pia:accepted", "sam:auto", "sue:auto", "syd:auto"}
	if a.MyStatus != "declined" || a.Status != "confirmed" || !slices.Equal(statuses(a), wantParts) {
		t.Fatalf("meeting as dora after declining = %+v", a)
	}
	g.expectNotes(t, hugo,
		note{"declined", apptNote(meeting, "confirmed", dora.userID, "user_id", dora.userID)},
		note{"accepted", apptNote(meeting, "confirmed", pia.userID, "user_id", pia.userID)},
		added(hugo, 500))
	// The others heard nothing of the answers.
	g.expectNotes(t, sam, imposed, added(sam, 100))
}

// TestE2EGroupsFlatStudyGroup: in a flat group everyone is invited; a
// meeting holds only once all accept, and one refusal cancels it for all.
func TestE2EGroupsFlatStudyGroup(t *testing.T) {
	g := newGroupPlay(t)
	lea := g.user(t, "lea")
	max := g.user(t, "max")
	noa := g.user(t, "noa")
	ola := g.user(t, "ola")

	club := g.createGroup(t, lea, "Study group", false)
	g.addMember(t, lea, club, max, map[string]any{"username": "max"}, 0)
	g.addMember(t, max, club, noa, map[string]any{"user_id": noa.userID}, 0)        // any member may add
	g.addMember(t, noa, club, ola, map[string]any{"username": "ola", "rank": 0}, 0) // rank 0 is the only rank
	grp := decodeGroup(t, g.read(t, ola, "/api/groups/"+club.ID, nil), true)
	if want := []string{"lea:0", "max:0", "noa:0", "ola:0"}; !slices.Equal(ranks(grp.Members), want) || grp.Hierarchical {
		t.Fatalf("members = %v, want %v", ranks(grp.Members), want)
	}
	evening, night := at(17, 0), at(23, 0)
	// Membership by consent: each was invited (group_invitation) and whoever
	// invited them heard they joined (member_added); newest first.
	invitedBy := func(by *client) note {
		return note{"group_invitation", map[string]any{"group_id": club.ID, "group_name": "Study group", "by": by.userID,
			"rank": 0, "hierarchical": false}}
	}
	joined := func(c *client) note {
		return note{"member_added", groupNote(club, "Study group", c.userID, c.userID, "rank", 0)}
	}
	addedBy := map[string][]note{lea.userID: {joined(max)}, max.userID: {joined(noa), invitedBy(lea)},
		noa.userID: {joined(ola), invitedBy(max)}, ola.userID: {invitedBy(noa)}}

	// Meeting 1: pending until everyone accepted.
	m1 := g.groupAppointment(t, max, club, slot("Study session", at(18, 0), at(20, 0)))
	if m1.Status != "pending" || !slices.Equal(statuses(m1), []string{"lea:pending", "max:owner", "noa:pending", "ola:pending"}) {
		t.Fatalf("meeting 1 = %+v", m1)
	}
	for _, c := range []*client{lea, noa, ola} {
		g.expectAgenda(t, c, evening, night, "Study session 18:00-20:00 pending/pending pending=true")
		g.expectInvitations(t, c, m1.ID)
		g.expectNotes(t, c, append([]note{{"invitation", apptNote(m1, "pending", max.userID)}}, addedBy[c.userID]...)...)
	}
	g.expectAgenda(t, max, evening, night, "Study session 18:00-20:00 owner/pending pending=false")

	for i, c := range []*client{lea, noa} {
		p := g.answer(t, c, m1.ID, "accept")
		if p.Status != "accepted" || p.Appointment.Status != "pending" {
			t.Fatalf("acceptance %d by %s = %+v, want the meeting still pending", i+1, g.who(c), p)
		}
		if a := g.appointment(t, max, m1.ID); a.Status != "pending" {
			t.Fatalf("after %s accepted, status = %q, want pending", g.who(c), a.Status)
		}
	}
	p := g.answer(t, ola, m1.ID, "accept") // the last one
	if p.Status != "accepted" || p.Appointment.Status != "confirmed" {
		t.Fatalf("last acceptance = %+v, want the meeting confirmed", p)
	}
	for _, c := range []*client{lea, max, noa, ola} {
		a := g.appointment(t, c, m1.ID)
		if a.Status != "confirmed" || !slices.Equal(statuses(a), []string{"lea:accepted", "max:owner", "noa:accepted", "ola:accepted"}) {
			t.Fatalf("meeting 1 as %s = %+v", g.who(c), a)
		}
		g.expectInvitations(t, c)
	}
	for _, c := range []*client{lea, noa, ola} {
		g.expectAgenda(t, c, evening, night, "Study session 18:00-20:00 accepted/confirmed pending=false")
	}
	g.expectAgenda(t, max, evening, night, "Study session 18:00-20:00 owner/confirmed pending=false")
	confirmed := note{"confirmed", apptNote(m1, "confirmed", ola.userID)}
	accepted := func(c *client) note {
		return note{"accepted", apptNote(m1, "pending", c.userID, "user_id", c.userID)}
	}
	g.expectNotes(t, max, append([]note{confirmed, accepted(ola), accepted(noa), accepted(lea)}, addedBy[max.userID]...)...)
	for _, c := range []*client{lea, noa} {
		g.expectNotes(t, c, append([]note{confirmed, {"invitation", apptNote(m1, "pending", max.userID)}}, addedBy[c.userID]...)...)
	}
	// Ola confirmed it herself: not told.
	g.expectNotes(t, ola, append([]note{{"invitation", apptNote(m1, "pending", max.userID)}}, addedBy[ola.userID]...)...)
	notesBefore := map[string][]apiNotification{}
	for _, c := range []*client{lea, max, noa, ola} {
		notesBefore[c.userID] = g.notifications(t, c, "")
	}

	// Meeting 2: one refusal cancels it for everyone.
	m2 := g.groupAppointment(t, lea, club, slot("Exam prep", at(21, 0), at(22, 0)))
	g.answer(t, noa, m2.ID, "accept")
	p = g.answer(t, ola, m2.ID, "decline")
	if p.Status != "declined" || p.Appointment.Status != "cancelled" {
		t.Fatalf("decline = %+v, want the meeting cancelled", p)
	}
	for _, c := range []*client{lea, max, noa, ola} {
		a := g.appointment(t, c, m2.ID)
		if a.Status != "cancelled" || !slices.Equal(statuses(a), []string{"lea:owner", "max:pending", "noa:accepted", "ola:declined"}) {
			t.Fatalf("meeting 2 as %s = %+v", g.who(c), a)
		}
		g.expectAgenda(t, c, at(20, 30), night) // gone from every agenda
		g.expectInvitations(t, c)
	}
	cancelled := note{"cancelled", apptNote(m2, "cancelled", ola.userID, "reason", "declined")}
	invitedTo2 := note{"invitation", apptNote(m2, "pending", lea.userID)}
	noteTypes := func(ns []apiNotification) []note {
		var out []note
		for _, n := range ns {
			out = append(out, note{n.Type, n.Payload})
		}
		return out
	}
	g.expectNotes(t, max, append([]note{cancelled, invitedTo2}, noteTypes(notesBefore[max.userID])...)...)
	g.expectNotes(t, noa, append([]note{cancelled, invitedTo2}, noteTypes(notesBefore[noa.userID])...)...)
	g.expectNotes(t, lea, append([]note{cancelled,
		{"declined", apptNote(m2, "pending", ola.userID, "user_id", ola.userID)},
		{"accepted", apptNote(m2, "pending", noa.userID, "user_id", noa.userID)},
	}, noteTypes(notesBefore[lea.userID])...)...)
	g.expectNotes(t, ola, append([]note{invitedTo2}, noteTypes(notesBefore[ola.userID])...)...)

	// Nothing more to answer, and nothing more to cancel.
	path := "/api/appointments/" + m2.ID
	g.refuse(t, max, "POST", path+"/accept", nil, http.StatusConflict, "conflict")
	g.refuse(t, max, "POST", path+"/decline", nil, http.StatusConflict, "conflict")
	g.refuse(t, noa, "POST", path+"/decline", nil, http.StatusConflict, "conflict")
	g.refuse(t, ola, "POST", path+"/accept", nil, http.StatusConflict, "conflict")
	g.refuse(t, lea, "DELETE", path, nil, http.StatusConflict, "conflict")
	// The evening is free again for everyone but the confirmed session.
	g.personal(t, max, slot("Max's run", at(21, 0), at(22, 0)))

	// A flat group of one: nobody to wait for, confirmed at once.
	solo := g.createGroup(t, noa, "Just me", false)
	if a := g.groupAppointment(t, noa, solo, slot("Revision", at(21, 0), at(22, 0))); a.Status != "confirmed" ||
		!slices.Equal(statuses(a), []string{"noa:owner"}) {
		t.Fatalf("a one-member flat group's appointment = %s %v, want confirmed", a.Status, statuses(a))
	}
}

// groupAgendaLines reads grp's agenda for [from, to) as viewer and renders
// it as "member: 09:00-10:00 Title (my_status)" for an entry shown in
// detail and "member: 09:00-10:00 busy" for a masked one, checking that a
// masked entry is exactly {start, end, busy: true} and a detailed one has
// every agenda entry field and busy false. It returns the raw body too.
func (g *groupPlay) groupAgendaLines(t testing.TB, viewer *client, grp apiGroup, from, to time.Time) ([]string, []byte) {
	t.Helper()
	var members []json.RawMessage
	body := g.read(t, viewer, fmt.Sprintf("/api/groups/%s/agenda?from=%s&to=%s", grp.ID, rfc(from), rfc(to)), &members)
	detailKeys := append([]string{"busy"}, agendaEntryKeys...)
	out := []string{}
	for _, mr := range members {
		m := expectKeys(t, mr, "user_id", "username", "entries")
		name := rawString(t, m, "username")
		var entries []json.RawMessage
		if err := json.Unmarshal(m["entries"], &entries); err != nil || entries == nil {
			t.Fatalf("entries of %s = %s, want a list", name, m["entries"])
		}
		if len(entries) == 0 {
			out = append(out, name+": -")
		}
		for _, er := range entries {
			var e struct {
				Start, End time.Time
				Busy       bool
				Title      string
				MyStatus   string `json:"my_status"`
			}
			if err := json.Unmarshal(er, &e); err != nil {
				t.Fatal(err)
			}
			span := e.Start.Format("15:04") + "-" + e.End.Format("15:04")
			var raw map[string]json.RawMessage
			json.Unmarshal(er, &raw)
			if len(raw) == 3 {
				expectKeys(t, er, "start", "end", "busy")
				if !e.Busy {
					t.Fatalf("masked entry with busy false: %s", er)
				}
				out = append(out, name+": "+span+" busy")
				continue
			}
			expectKeys(t, er, detailKeys...)
			if e.Busy {
				t.Fatalf("detailed entry with busy true: %s", er)
			}
			out = append(out, fmt.Sprintf("%s: %s %s (%s)", name, span, e.Title, e.MyStatus))
		}
	}
	return out, body
}

// expectGroupAgenda fails unless viewer's view of grp's agenda renders as
// want and the raw body contains none of hidden.
func (g *groupPlay) expectGroupAgenda(t testing.TB, viewer *client, grp apiGroup, from, to time.Time, want []string, hidden ...string) {
	t.Helper()
	got, body := g.groupAgendaLines(t, viewer, grp, from, to)
	if !slices.Equal(got, want) {
		t.Fatalf("agenda of group %q as %s =\n  %s\nwant\n  %s", grp.Name, g.who(viewer), strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, h := range hidden {
		if strings.Contains(string(body), h) {
			t.Fatalf("agenda of group %q as %s leaks %q: %s", grp.Name, g.who(viewer), h, body)
		}
	}
}

// TestE2EGroupsAgendaPrivacy: who sees what of whom in a group agenda. A
// superior sees a subordinate's entries in detail when their privacy is
// full and only busy time when it is freebusy; peers and subordinates see
// only busy time of what they take no part in; taking part shows details;
// a flat group has no superiors.
func TestE2EGroupsAgendaPrivacy(t *testing.T) {
	g := newGroupPlay(t)
	boss := g.user(t, "boss") // 1000
	mona := g.user(t, "mona") // 500
	lily := g.user(t, "lily") // 100
	luke := g.user(t, "luke") // 100

	dept := g.createGroup(t, boss, "Dept", true)
	g.addMember(t, boss, dept, mona, map[string]any{"user_id": mona.userID, "rank": 500}, 500)
	g.addMember(t, boss, dept, lily, map[string]any{"user_id": lily.userID, "rank": 100}, 100)
	g.addMember(t, mona, dept, luke, map[string]any{"user_id": luke.userID, "rank": 100}, 100)

	therapy := g.personal(t, luke, slot("Therapy session", at(9, 0), at(10, 0), "privacy", "freebusy"))
	review := g.personal(t, luke, slot("Code review", at(11, 0), at(12, 0), "privacy", "full"))
	dentist := g.personal(t, lily, slot("Dentist visit", at(9, 0), at(10, 0)))
	sync := g.groupAppointment(t, mona, dept, slot("Team sync", at(14, 0), at(15, 0), "privacy", "full"))
	private := g.personal(t, mona, slot("Mona private", at(16, 0), at(17, 0), "privacy", "full"))
	board := g.personal(t, boss, slot("Board meeting", at(16, 0), at(17, 0), "privacy", "freebusy"))
	if !slices.Equal(statuses(sync), []string{"boss:pending", "lily:auto", "luke:auto", "mona:owner"}) {
		t.Fatalf("team sync participants = %v", statuses(sync))
	}
	from, to := at(8, 0), at(18, 0)

	// The boss outranks everyone: full entries in detail, freebusy ones
	// masked. His pending invitation to the sync blocks nothing, so it is
	// not in his row.
	g.expectGroupAgenda(t, boss, dept, from, to, []string{
		"boss: 16:00-17:00 Board meeting (owner)",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 Mona private (owner)",
		"lily: 09:00-10:00 Dentist visit (owner)",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 09:00-10:00 busy",
		"luke: 11:00-12:00 Code review (owner)",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Therapy session", therapy.ID)
	// Mona outranks lily and luke, not the boss.
	g.expectGroupAgenda(t, mona, dept, from, to, []string{
		"boss: 16:00-17:00 busy",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 Mona private (owner)",
		"lily: 09:00-10:00 Dentist visit (owner)",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 09:00-10:00 busy",
		"luke: 11:00-12:00 Code review (owner)",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Therapy session", therapy.ID, "Board meeting", board.ID)
	// Luke is a peer of lily and below mona: busy time only, except the
	// sync he takes part in; his own entries in full.
	g.expectGroupAgenda(t, luke, dept, from, to, []string{
		"boss: 16:00-17:00 busy",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 busy",
		"lily: 09:00-10:00 busy",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 09:00-10:00 Therapy session (owner)",
		"luke: 11:00-12:00 Code review (owner)",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Dentist visit", dentist.ID, "Mona private", private.ID, "Board meeting", board.ID)
	g.expectGroupAgenda(t, lily, dept, from, to, []string{
		"boss: 16:00-17:00 busy",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 busy",
		"lily: 09:00-10:00 Dentist visit (owner)",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 09:00-10:00 busy",
		"luke: 11:00-12:00 busy",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Therapy session", therapy.ID, "Code review", review.ID, "Mona private", private.ID, "Board meeting", board.ID)

	// Luke makes his code review freebusy: his superiors now see busy time.
	g.write(t, luke, "PATCH", "/api/appointments/"+review.ID, map[string]any{"privacy": "freebusy"}, http.StatusOK)
	g.expectGroupAgenda(t, boss, dept, at(11, 0), at(12, 0),
		[]string{"boss: -", "mona: -", "lily: -", "luke: 11:00-12:00 busy"}, "Code review", review.ID)
	g.expectGroupAgenda(t, luke, dept, at(11, 0), at(12, 0),
		[]string{"boss: -", "mona: -", "lily: -", "luke: 11:00-12:00 Code review (owner)"})

	// Once the boss accepts, the sync is blocking time of his too.
	g.answer(t, boss, sync.ID, "accept")
	g.expectGroupAgenda(t, luke, dept, at(13, 0), at(18, 0), []string{
		"boss: 14:00-15:00 Team sync (accepted)",
		"boss: 16:00-17:00 busy",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 busy",
		"lily: 14:00-15:00 Team sync (auto)",
		"luke: 14:00-15:00 Team sync (auto)",
	}, "Board meeting", "Mona private")
	// A window shows only what overlaps it, and every member, even idle.
	g.expectGroupAgenda(t, lily, dept, at(10, 0), at(11, 0), []string{"boss: -", "mona: -", "lily: -", "luke: -"})

	// In a flat group no one outranks anyone: full privacy shows nothing to
	// the others, a shared appointment shows in detail.
	club := g.createGroup(t, mona, "Lunch club", false)
	g.addMember(t, mona, club, luke, map[string]any{"username": "luke"}, 0)
	lunch := g.groupAppointment(t, mona, club, slot("Lunch", at(12, 0), at(13, 0)))
	g.answer(t, luke, lunch.ID, "accept")
	// (Equal ranks: members by username.)
	g.expectGroupAgenda(t, mona, club, from, to, []string{
		"luke: 09:00-10:00 busy",
		"luke: 11:00-12:00 busy",
		"luke: 12:00-13:00 Lunch (accepted)",
		"luke: 14:00-15:00 Team sync (auto)",
		"mona: 12:00-13:00 Lunch (owner)",
		"mona: 14:00-15:00 Team sync (owner)",
		"mona: 16:00-17:00 Mona private (owner)",
	}, "Therapy session", "Code review", review.ID)
}

// TestE2EGroupsAgendaDeclinedInviteeSeesBusyOnly: an invitee who declined
// takes no part any more in the group agenda's eyes (commit 5a1c53f): a peer
// of the organiser sees the appointment in detail while invited, and only
// as busy time once they declined, although they can still read it with
// GET /api/appointments/{id}.
func TestE2EGroupsAgendaDeclinedInviteeSeesBusyOnly(t *testing.T) {
	g := newGroupPlay(t)
	boss := g.user(t, "boss")
	mona := g.user(t, "mona") // 500, organises
	mark := g.user(t, "mark") // 500, a peer: invited
	dept := g.createGroup(t, boss, "Dept", true)
	g.addMember(t, boss, dept, mona, map[string]any{"username": "mona", "rank": 500}, 500)
	g.addMember(t, boss, dept, mark, map[string]any{"username": "mark", "rank": 500}, 500)
	sync := g.groupAppointment(t, mona, dept, slot("Heads sync", at(14, 0), at(15, 0), "privacy", "freebusy"))

	g.expectGroupAgenda(t, mark, dept, at(8, 0), at(18, 0), // pending: takes part
		[]string{"boss: -", "mark: -", "mona: 14:00-15:00 Heads sync (owner)"})
	g.answer(t, mark, sync.ID, "decline")
	if a := g.appointment(t, mark, sync.ID); a.MyStatus != "declined" || a.Title != "Heads sync" {
		t.Fatalf("the declined invitee reads %+v", a)
	}
	g.expectGroupAgenda(t, mark, dept, at(8, 0), at(18, 0), // declined: busy time only
		[]string{"boss: -", "mark: -", "mona: 14:00-15:00 busy"}, "Heads sync", sync.ID)
	// Accepting again brings the details back.
	g.answer(t, mark, sync.ID, "accept")
	g.expectGroupAgenda(t, mark, dept, at(8, 0), at(18, 0),
		[]string{"boss: -", "mark: 14:00-15:00 Heads sync (accepted)", "mona: 14:00-15:00 Heads sync (owner)"})
}

// TestE2EGroupsConflictsAcrossPeople: imposing a meeting checks every
// imposed person's agenda and reports their clashes as busy time only,
// never what they are; nothing is committed. Accepting into an overlap is
// refused the same way; touching intervals never clash.
func TestE2EGroupsConflictsAcrossPeople(t *testing.T) {
	g := newGroupPlay(t)
	chief := g.user(t, "chief")
	ann := g.user(t, "ann")
	ben := g.user(t, "ben")
	team := g.createGroup(t, chief, "Team", true)
	g.addMember(t, chief, team, ann, map[string]any{"username": "ann"}, 0)
	g.addMember(t, chief, team, ben, map[string]any{"username": "ben"}, 0)
	interview := g.personal(t, ben, slot("Ben's job interview", at(10, 0), at(11, 0)))
	gp := "/api/groups/" + team.ID + "/appointments"
	dayStart, dayEnd := at(0, 0), at(23, 59)
	annNotes := g.notifications(t, ann, "")
	benNotes := g.notifications(t, ben, "")

	// Imposing over ben's interview: refused, and the answer shows chief only
	// that ben is busy then.
	e, r := g.refuse(t, chief, "POST", gp, slot("All hands", at(10, 30), at(11, 30)), http.StatusConflict, "schedule_conflict")
	cs := conflictsOf(t, e, chief.userID)
	want := []map[string]any{{"user_id": ben.userID, "start": rfc(at(10, 0)), "end": rfc(at(11, 0)), "busy": true}}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	for _, leak := range []string{"job interview", interview.ID} {
		if strings.Contains(string(r.Body), leak) {
			t.Fatalf("the conflict leaks %q: %s", leak, r.Body)
		}
	}
	// Nothing was committed: no entries, no invitations, no notifications.
	for _, c := range []*client{chief, ann} {
		g.expectAgenda(t, c, dayStart, dayEnd)
		g.expectInvitations(t, c)
	}
	g.expectAgenda(t, ben, dayStart, dayEnd, "Ben's job interview 10:00-11:00 owner/confirmed pending=false")
	if got := g.notifications(t, ann, ""); !reflect.DeepEqual(got, annNotes) {
		t.Fatalf("ann's notifications changed: %+v", got)
	}
	if got := g.notifications(t, ben, ""); !reflect.DeepEqual(got, benNotes) {
		t.Fatalf("ben's notifications changed: %+v", got)
	}

	// Clashes of the organiser (in full) and of an imposed member (busy
	// only), in one answer, organiser first.
	lunch := g.personal(t, chief, slot("Chief lunch", at(12, 0), at(13, 0)))
	doctor := g.personal(t, ben, slot("Ben's doctor", at(12, 30), at(13, 30)))
	e, r = g.refuse(t, chief, "POST", gp, slot("Budget", at(12, 15), at(12, 45)), http.StatusConflict, "schedule_conflict")
	cs = conflictsOf(t, e, chief.userID)
	want = []map[string]any{
		{"user_id": chief.userID, "appointment_id": lunch.ID, "title": "Chief lunch", "start": rfc(at(12, 0)), "end": rfc(at(13, 0))},
		{"user_id": ben.userID, "start": rfc(at(12, 30)), "end": rfc(at(13, 30)), "busy": true},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	if strings.Contains(string(r.Body), "doctor") || strings.Contains(string(r.Body), doctor.ID) {
		t.Fatalf("the conflict leaks ben's appointment: %s", r.Body)
	}

	// Touching both ben's interview and chief's lunch: fine.
	standup := g.groupAppointment(t, chief, team, slot("Standup", at(11, 0), at(12, 0)))
	for _, c := range []*client{ann, ben} {
		if a := g.appointment(t, c, standup.ID); a.MyStatus != "auto" {
			t.Fatalf("standup as %s: my_status %q, want auto", g.who(c), a.MyStatus)
		}
	}
	g.expectAgenda(t, ben, dayStart, dayEnd,
		"Ben's job interview 10:00-11:00 owner/confirmed pending=false",
		"Standup 11:00-12:00 auto/confirmed pending=false",
		"Ben's doctor 12:30-13:30 owner/confirmed pending=false")

	// Ann (rank 0) invites: chief above her and ben level with her are
	// invited. An invitation blocks nothing, so ben books over it; then he
	// cannot accept it.
	retro := g.groupAppointment(t, ann, team, slot("Ann's retro", at(15, 0), at(16, 0)))
	if !slices.Equal(statuses(retro), []string{"ann:owner", "ben:pending", "chief:pending"}) {
		t.Fatalf("retro participants = %v", statuses(retro))
	}
	gym := g.personal(t, ben, slot("Ben's gym", at(15, 30), at(16, 30)))
	e, _ = g.refuse(t, ben, "POST", "/api/appointments/"+retro.ID+"/accept", nil, http.StatusConflict, "schedule_conflict")
	cs = conflictsOf(t, e, ben.userID)
	want = []map[string]any{{"user_id": ben.userID, "appointment_id": gym.ID, "title": "Ben's gym", "start": rfc(at(15, 30)), "end": rfc(at(16, 30))}}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	g.expectInvitations(t, ben, retro.ID)
	if a := g.appointment(t, ben, retro.ID); a.MyStatus != "pending" {
		t.Fatalf("after the refused acceptance ben is %q, want pending", a.MyStatus)
	}
	// Moving the gym to touch the retro frees him to accept.
	g.write(t, ben, "PATCH", "/api/appointments/"+gym.ID, map[string]any{"start": rfc(at(16, 0)), "end": rfc(at(17, 0))}, http.StatusOK)
	g.answer(t, ben, retro.ID, "accept")
	// Chief accepts into a slot touching his own call.
	g.personal(t, chief, slot("Chief call", at(14, 0), at(15, 0)))
	g.answer(t, chief, retro.ID, "accept")
	g.expectAgenda(t, ben, at(14, 0), at(18, 0),
		"Ann's retro 15:00-16:00 accepted/confirmed pending=false",
		"Ben's gym 16:00-17:00 owner/confirmed pending=false")
}

// freeSlotsPath is the free-slots query of grp.
func freeSlotsPath(grp apiGroup, from, to time.Time, duration string) string {
	return fmt.Sprintf("/api/groups/%s/free-slots?from=%s&to=%s&duration=%s", grp.ID, rfc(from), rfc(to), duration)
}

// expectFreeSlots fails unless the free slots of grp are exactly want
// ("09:00-10:00" each), each shaped {start, end}.
func (g *groupPlay) expectFreeSlots(t testing.TB, c *client, grp apiGroup, from, to time.Time, duration string, want ...string) {
	t.Helper()
	var raw []json.RawMessage
	g.read(t, c, freeSlotsPath(grp, from, to, duration), &raw)
	got := []string{}
	for _, r := range raw {
		m := expectKeys(t, r, "start", "end")
		s, e := rawString(t, m, "start"), rawString(t, m, "end")
		st, err1 := time.Parse(time.RFC3339, s)
		en, err2 := time.Parse(time.RFC3339, e)
		if err1 != nil || err2 != nil || !strings.HasSuffix(s, "Z") || !strings.HasSuffix(e, "Z") {
			t.Fatalf("slot %s: want RFC 3339 UTC times", r)
		}
		got = append(got, st.Format("15:04")+"-"+en.Format("15:04"))
	}
	if !slices.Equal(got, append([]string{}, want...)) {
		t.Fatalf("free slots of %q [%s, %s) of %s = %v, want %v", grp.Name, from.Format("15:04"), to.Format("15:04"), duration, got, want)
	}
}

// TestE2EGroupsFreeSlots: the common free time of a group's members, from
// what blocks their time (own, imposed, accepted; not pending invitations).
func TestE2EGroupsFreeSlots(t *testing.T) {
	g := newGroupPlay(t)
	fay := g.user(t, "fay")
	gus := g.user(t, "gus")
	ida := g.user(t, "ida")
	oli := g.user(t, "oli")
	zed := g.user(t, "zed") // in no group
	team := g.createGroup(t, fay, "Planning", false)
	g.addMember(t, fay, team, gus, map[string]any{"username": "gus"}, 0)
	g.addMember(t, fay, team, ida, map[string]any{"username": "ida"}, 0)

	g.personal(t, ida, slot("early", at(7, 0), at(8, 30))) // starts before the window
	g.personal(t, fay, slot("f1", at(9, 0), at(10, 0)))
	g.personal(t, gus, slot("g1", at(9, 30), at(11, 0))) // overlaps fay's
	g.personal(t, ida, slot("i1", at(12, 0), at(12, 20)))
	g.personal(t, ida, slot("i2", at(12, 40), at(13, 0)))
	g.personal(t, gus, slot("outside", at(19, 0), at(20, 0))) // after the window
	// A pending flat-group meeting blocks its organiser only.
	g.groupAppointment(t, fay, team, slot("Planning session", at(15, 0), at(16, 0)))
	// Gus is invited elsewhere at 17:00: an invitation blocks nothing.
	side := g.createGroup(t, gus, "Side", true)
	g.addMember(t, gus, side, oli, map[string]any{"username": "oli"}, 0)
	sideMeeting := g.groupAppointment(t, oli, side, slot("Side meeting", at(17, 0), at(17, 30)))
	from, to := at(8, 0), at(18, 0)

	tests := []struct {
		duration string
		want     []string
	}{
		{"30m", []string{"08:30-09:00", "11:00-12:00", "13:00-15:00", "16:00-18:00"}},
		{"20m", []string{"08:30-09:00", "11:00-12:00", "12:20-12:40", "13:00-15:00", "16:00-18:00"}},
		{"21m", []string{"08:30-09:00", "11:00-12:00", "13:00-15:00", "16:00-18:00"}},
		{"1h", []string{"11:00-12:00", "13:00-15:00", "16:00-18:00"}},
		{"1h30m", []string{"13:00-15:00", "16:00-18:00"}},
		{"2h", []string{"13:00-15:00", "16:00-18:00"}},
		{"2h1m", []string{}},
	}
	for _, tc := range tests {
		g.expectFreeSlots(t, ida, team, from, to, tc.duration, tc.want...)
	}
	// Every member gets the same answer.
	g.expectFreeSlots(t, fay, team, from, to, "30m", "08:30-09:00", "11:00-12:00", "13:00-15:00", "16:00-18:00")
	// A window inside the day is clipped to it.
	g.expectFreeSlots(t, gus, team, at(12, 10), at(12, 50), "10m", "12:20-12:40")
	g.expectFreeSlots(t, gus, team, at(9, 15), at(10, 45), "1m")

	// Once gus accepts the side meeting, it is busy time of the team too.
	g.answer(t, gus, sideMeeting.ID, "accept")
	g.expectFreeSlots(t, ida, team, from, to, "30m", "08:30-09:00", "11:00-12:00", "13:00-15:00", "16:00-17:00", "17:30-18:00")
	// The side group sees gus's and oli's time only (gus is merely invited
	// to the planning session at 15:00).
	g.expectFreeSlots(t, oli, side, from, to, "1h", "08:00-09:30", "11:00-17:00")

	// Not a member: the same 404 as a group that does not exist.
	missing := apiGroup{ID: uuid.NewString()}
	nonMember := g.notFound(t, zed, freeSlotsPath(team, from, to, "30m"))
	noGroup := g.notFound(t, zed, freeSlotsPath(missing, from, to, "30m"))
	if string(nonMember.Body) != string(noGroup.Body) {
		t.Fatalf("non-member 404 %s differs from unknown-group 404 %s", nonMember.Body, noGroup.Body)
	}

	// Bad durations and windows.
	for _, d := range []string{"", "abc", "30", "30s", "0", "-1h", "745h"} {
		r := g.get(t, fay, freeSlotsPath(team, from, to, d))
		expectField(t, expectError(t, r, http.StatusBadRequest, "invalid"), "duration")
	}
	r := g.get(t, fay, freeSlotsPath(team, to, from, "30m"))
	expectError(t, r, http.StatusBadRequest, "invalid")
	r = g.get(t, fay, fmt.Sprintf("/api/groups/%s/free-slots?duration=30m", team.ID))
	expectError(t, r, http.StatusBadRequest, "invalid")
	g.expectFreeSlots(t, fay, team, from, to, "744h")
}

// groupRows counts the rows of the read model's groups and group_members
// tables for a group: a group deleted is gone from both, which no member can
// see through the API any more.
func groupRows(t testing.TB, n *Node, groupID string) (groups, members int) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(n.Config.DataDir, "readmodel.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM groups WHERE id = ?1), (SELECT COUNT(*) FROM group_members WHERE group_id = ?1)`,
		groupID).Scan(&groups, &members); err != nil {
		t.Fatalf("read the read model: %v", err)
	}
	return groups, members
}

// TestE2EGroupsLifecycle: a flat book club is renamed by its creator only,
// loses a member who leaves and one who is removed, cannot be deleted while
// a meeting waits for answers, and is deleted once it is cancelled. A
// hierarchical team re-ranks, and is deleted when its last member leaves.
// Everyone concerned is told, and reads and clears their notifications.
func TestE2EGroupsLifecycle(t *testing.T) {
	g := newGroupPlay(t)
	kim := g.user(t, "kim")
	lou := g.user(t, "lou")
	mia := g.user(t, "mia")
	ned := g.user(t, "ned")

	e, _ := g.refuse(t, kim, "POST", "/api/groups", map[string]any{"name": "No kind"}, http.StatusBadRequest, "invalid")
	expectField(t, e, "hierarchical")
	e, _ = g.refuse(t, kim, "POST", "/api/groups", map[string]any{"name": "  ", "hierarchical": false}, http.StatusBadRequest, "invalid")
	expectField(t, e, "name")
	club := g.createGroup(t, kim, "Book club", false)
	gp := "/api/groups/" + club.ID
	for _, c := range []*client{lou, mia, ned} {
		g.addMember(t, kim, club, c, map[string]any{"user_id": c.userID}, 0)
		g.expectNotes(t, c, note{"group_invitation", map[string]any{"group_id": club.ID, "group_name": "Book club",
			"by": kim.userID, "rank": 0, "hierarchical": false}})
	}

	// Renaming: the creator only, If-Match honoured.
	g.refuse(t, lou, "PATCH", gp, map[string]any{"name": "Lou's club"}, http.StatusForbidden, "forbidden")
	g.refuse(t, kim, "PATCH", gp, map[string]any{}, http.StatusBadRequest, "invalid")
	e, _ = g.refuse(t, kim, "PATCH", gp, map[string]any{"hierarchical": true}, http.StatusBadRequest, "invalid")
	expectField(t, e, "hierarchical")
	cur := decodeGroup(t, g.read(t, kim, gp, nil), true)
	before := traceOf(t, g.n)
	r := kim.patchJSON(gp, map[string]any{"name": "Stale"}, fmt.Sprintf(`"%d"`, cur.Version-1))
	expectError(t, r, http.StatusPreconditionFailed, "precondition_failed")
	expectNoTrace(t, g.n, before)
	r = kim.patchJSON(gp, map[string]any{"name": "Readers", "description": "Monthly"}, fmt.Sprintf(`"%d"`, cur.Version))
	if r.Status != http.StatusOK {
		t.Fatalf("rename: %d %s", r.Status, r.Body)
	}
	g.pos = positionOf(t, r)
	renamed := decodeGroup(t, r.Body, true)
	expectETag(t, r, cur.Version+1)
	if renamed.Name != "Readers" || renamed.Description != "Monthly" || renamed.Version != cur.Version+1 || renamed.MemberCount != 4 {
		t.Fatalf("renamed group = %+v", renamed)
	}
	if got := decodeGroup(t, g.read(t, lou, gp, nil), true); got.Name != "Readers" || got.Description != "Monthly" || got.MyRank != 0 {
		t.Fatalf("the group as lou = %+v", got)
	}
	var list []apiGroup
	g.read(t, mia, "/api/groups", &list)
	if len(list) != 1 || list[0].Name != "Readers" {
		t.Fatalf("mia's groups = %+v", list)
	}

	// Mia leaves: 204, and the group is gone for her; kim is told.
	r = g.write(t, mia, "DELETE", gp+"/members/"+mia.userID, nil, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	g.notFound(t, mia, gp)
	g.read(t, mia, "/api/groups", &list)
	if len(list) != 0 {
		t.Fatalf("mia's groups after leaving = %+v", list)
	}
	// Kim invited them all, and heard as each joined.
	joined := func(c *client) note {
		return note{"member_added", groupNote(club, "Book club", c.userID, c.userID, "rank", 0)}
	}
	g.expectNotes(t, kim, note{"member_removed", groupNote(club, "Readers", mia.userID, mia.userID, "left", true)},
		joined(ned), joined(mia), joined(lou))
	// Kim removes ned: ned is told, and is out.
	g.write(t, kim, "DELETE", gp+"/members/"+ned.userID, nil, http.StatusNoContent)
	g.expectNotes(t, ned,
		note{"member_removed", groupNote(club, "Readers", kim.userID, ned.userID, "left", false)},
		note{"group_invitation", map[string]any{"group_id": club.ID, "group_name": "Book club", "by": kim.userID, "rank": 0, "hierarchical": false}})
	g.notFound(t, ned, gp)
	if got := decodeGroup(t, g.read(t, lou, gp, nil), true); !slices.Equal(ranks(got.Members), []string{"kim:0", "lou:0"}) || got.MemberCount != 2 {
		t.Fatalf("members after mia and ned = %v (count %d)", ranks(got.Members), got.MemberCount)
	}

	// A meeting waiting for kim's answer keeps the group alive.
	chapter := g.groupAppointment(t, lou, club, slot("Chapter 1", at(19, 0), at(20, 0)))
	e, _ = g.refuse(t, kim, "DELETE", gp, nil, http.StatusConflict, "conflict")
	if n, _ := e.Details["pending_appointments"].(float64); n != 1 {
		t.Fatalf("details = %v, want pending_appointments 1", e.Details)
	}
	g.write(t, lou, "DELETE", "/api/appointments/"+chapter.ID, nil, http.StatusNoContent)
	if a := g.appointment(t, kim, chapter.ID); a.Status != "cancelled" {
		t.Fatalf("chapter 1 after its organiser deleted it: %q", a.Status)
	}
	g.refuse(t, lou, "DELETE", gp, nil, http.StatusForbidden, "forbidden")
	g.write(t, kim, "DELETE", gp, nil, http.StatusNoContent)
	for _, c := range []*client{kim, lou} {
		g.notFound(t, c, gp)
		g.read(t, c, "/api/groups", &list)
		if len(list) != 0 {
			t.Fatalf("%s's groups after the deletion = %+v", g.who(c), list)
		}
	}
	if gr, mr := groupRows(t, g.n, club.ID); gr != 0 || mr != 0 {
		t.Fatalf("after DELETE the read model holds %d group and %d member rows", gr, mr)
	}
	// Chapter 1 stays readable, cancelled, for its participants.
	if a := g.appointment(t, lou, chapter.ID); a.Status != "cancelled" {
		t.Fatalf("chapter 1 after the group's deletion: %q", a.Status)
	}
	g.expectNotes(t, kim,
		note{"cancelled", apptNote(chapter, "cancelled", lou.userID, "reason", "deleted")},
		note{"invitation", apptNote(chapter, "pending", lou.userID)},
		note{"member_removed", groupNote(club, "Readers", mia.userID, mia.userID, "left", true)},
		joined(ned), joined(mia), joined(lou))

	// A hierarchical team: ranks change, and the last one out deletes it.
	ops := g.createGroup(t, kim, "Ops", true)
	op := "/api/groups/" + ops.ID
	g.addMember(t, kim, ops, lou, map[string]any{"username": "lou", "rank": 10}, 10)
	r = g.write(t, kim, "PATCH", op+"/members/"+lou.userID, map[string]any{"rank": 20}, http.StatusOK)
	if m := decodeMember(t, r.Body); m.UserID != lou.userID || m.Rank != 20 {
		t.Fatalf("re-ranked member = %+v", m)
	}
	before = traceOf(t, g.n)
	r = kim.do("PATCH", op+"/members/"+lou.userID, map[string]any{"rank": 20}) // the same rank: nothing to write
	if r.Status != http.StatusOK || decodeMember(t, r.Body).Rank != 20 {
		t.Fatalf("re-rank to the same rank: %d %s", r.Status, r.Body)
	}
	expectNoTrace(t, g.n, before)
	g.expectNotes(t, lou,
		note{"rank_changed", groupNote(ops, "Ops", kim.userID, lou.userID, "rank", 20)},
		note{"group_invitation", map[string]any{"group_id": ops.ID, "group_name": "Ops", "by": kim.userID, "rank": 10, "hierarchical": true}},
		note{"group_invitation", map[string]any{"group_id": club.ID, "group_name": "Book club", "by": kim.userID, "rank": 0, "hierarchical": false}})
	g.write(t, lou, "DELETE", op+"/members/"+lou.userID, nil, http.StatusNoContent)
	g.notFound(t, lou, op)
	leftOps := note{"member_removed", groupNote(ops, "Ops", lou.userID, lou.userID, "left", true)}
	// kim: 3 notes of the club, 3 club members joining, lou joining Ops, lou leaving it.
	if got := g.notifications(t, kim, ""); len(got) != 8 || !reflect.DeepEqual(note{got[0].Type, got[0].Payload}, g.roundTrip(leftOps)) {
		t.Fatalf("kim's notifications after lou left Ops: %+v", got)
	}
	g.write(t, kim, "DELETE", op+"/members/"+kim.userID, nil, http.StatusNoContent) // the last one
	g.notFound(t, kim, op)
	if got := g.notifications(t, kim, ""); len(got) != 8 { // no one is told of the last one leaving
		t.Fatalf("kim's notifications after leaving Ops last: %+v", got)
	}
	if gr, mr := groupRows(t, g.n, ops.ID); gr != 0 || mr != 0 {
		t.Fatalf("after the last member left the read model holds %d group and %d member rows", gr, mr)
	}

	// Lou reads and clears notifications.
	all := g.notifications(t, lou, "")
	if len(all) < 3 {
		t.Fatalf("lou has %d notifications, want at least 3", len(all))
	}
	for _, n := range all {
		if n.ReadAt != nil {
			t.Fatalf("notification %s read before anyone read it", n.ID)
		}
	}
	newest := all[0]
	np := "/api/notifications/" + newest.ID + "/read"
	g.write(t, lou, "POST", np, nil, http.StatusNoContent)
	unread := g.notifications(t, lou, "?unread=true")
	if len(unread) != len(all)-1 || slices.ContainsFunc(unread, func(n apiNotification) bool { return n.ID == newest.ID }) {
		t.Fatalf("unread after reading one: %d (of %d), want all but %s", len(unread), len(all), newest.ID)
	}
	again := g.notifications(t, lou, "")
	if again[0].ID != newest.ID || again[0].ReadAt == nil || again[0].Version != newest.Version+1 || again[1].ReadAt != nil {
		t.Fatalf("after reading the newest: %+v", again[:2])
	}
	if got := g.notifications(t, lou, "?unread=false"); len(got) != len(all) {
		t.Fatalf("unread=false lists %d, want all %d", len(got), len(all))
	}
	if got := g.notifications(t, lou, "?limit=1"); len(got) != 1 || got[0].ID != newest.ID {
		t.Fatalf("limit=1 = %+v", got)
	}
	// Reading it again changes nothing; someone else's or an unknown one is
	// not found.
	before = traceOf(t, g.n)
	lou.do("POST", np, nil).expect(t, http.StatusNoContent)
	expectNoTrace(t, g.n, before)
	kimsNote := g.notifications(t, kim, "")[0]
	g.refuse(t, lou, "POST", "/api/notifications/"+kimsNote.ID+"/read", nil, http.StatusNotFound, "not_found")
	g.refuse(t, lou, "POST", "/api/notifications/"+uuid.NewString()+"/read", nil, http.StatusNotFound, "not_found")
	for _, q := range []string{"?unread=maybe", "?limit=0", "?limit=501", "?limit=ten"} {
		g.refuse(t, lou, "GET", "/api/notifications"+q, nil, http.StatusBadRequest, "invalid")
	}
	// Read them all.
	g.write(t, lou, "POST", "/api/notifications/read-all", nil, http.StatusNoContent)
	if got := g.notifications(t, lou, "?unread=true"); len(got) != 0 {
		t.Fatalf("unread after read-all: %+v", got)
	}
	for _, n := range g.notifications(t, lou, "") {
		if n.ReadAt == nil {
			t.Fatalf("notification %s unread after read-all", n.ID)
		}
	}
	before = traceOf(t, g.n)
	lou.do("POST", "/api/notifications/read-all", nil).expect(t, http.StatusNoContent) // nothing left to read
	expectNoTrace(t, g.n, before)
	// Kim's were not touched.
	if got := g.notifications(t, kim, "?unread=true"); len(got) != len(g.notifications(t, kim, "")) {
		t.Fatalf("kim's notifications were marked read by lou's read-all")
	}
	// New ones after read-all are unread.
	g.addMember(t, kim, g.createGroup(t, kim, "Later", false), lou, map[string]any{"username": "lou"}, 0)
	if got := g.notifications(t, lou, "?unread=true"); len(got) != 1 || got[0].Type != "group_invitation" {
		t.Fatalf("unread after a new membership: %+v", got)
	}
}

// TestE2EGroupsOrganiserMovesAndCancels: the organiser of a group
// appointment moves it in every participant's agenda (refused if it would
// clash with an imposed member's time) and cancels it for all; the cancelled
// appointment stays readable, leaves every agenda, and cannot be cancelled,
// moved or answered again.
func TestE2EGroupsOrganiserMovesAndCancels(t *testing.T) {
	g := newGroupPlay(t)
	pat := g.user(t, "pat")   // 1000
	vic := g.user(t, "vic")   // 500, organises
	quin := g.user(t, "quin") // 0
	rex := g.user(t, "rex")   // 0
	una := g.user(t, "una")   // 500, invited, declines
	team := g.createGroup(t, pat, "Team", true)
	g.addMember(t, pat, team, vic, map[string]any{"username": "vic", "rank": 500}, 500)
	g.addMember(t, pat, team, quin, map[string]any{"username": "quin"}, 0)
	g.addMember(t, vic, team, rex, map[string]any{"username": "rex"}, 0)
	g.addMember(t, pat, team, una, map[string]any{"username": "una", "rank": 500}, 500)
	dentist := g.personal(t, quin, slot("Quin's dentist", at(11, 0), at(12, 0)))
	standup := g.groupAppointment(t, vic, team, slot("Standup", at(9, 0), at(9, 15)))
	if !slices.Equal(statuses(standup), []string{"pat:pending", "quin:auto", "rex:auto", "una:pending", "vic:owner"}) {
		t.Fatalf("participants = %v", statuses(standup))
	}
	g.answer(t, una, standup.ID, "decline")
	path := "/api/appointments/" + standup.ID
	morning, noon := at(8, 0), at(13, 0)
	notesBefore := map[string]int{}
	for _, c := range []*client{pat, quin, rex, una, vic} {
		notesBefore[c.userID] = len(g.notifications(t, c, ""))
	}

	// Only the organiser changes it.
	g.refuse(t, quin, "PATCH", path, map[string]any{"title": "Quin's standup"}, http.StatusForbidden, "forbidden")
	g.refuse(t, pat, "PATCH", path, map[string]any{"start": rfc(at(10, 0)), "end": rfc(at(10, 15))}, http.StatusForbidden, "forbidden")
	// Not onto quin's dentist: busy time, not what it is.
	e, r := g.refuse(t, vic, "PATCH", path, map[string]any{"start": rfc(at(11, 30)), "end": rfc(at(11, 45))}, http.StatusConflict, "schedule_conflict")
	cs := conflictsOf(t, e, vic.userID)
	want := []map[string]any{{"user_id": quin.userID, "start": rfc(at(11, 0)), "end": rfc(at(12, 0)), "busy": true}}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	if strings.Contains(string(r.Body), "dentist") || strings.Contains(string(r.Body), dentist.ID) {
		t.Fatalf("the conflict leaks quin's appointment: %s", r.Body)
	}

	// Moved to 09:30: in every agenda, the pending invitation included.
	r = g.write(t, vic, "PATCH", path, map[string]any{"start": rfc(at(9, 30)), "end": rfc(at(9, 45)), "title": "Standup (late)"}, http.StatusOK)
	moved := decodeAppointment(t, r)
	expectETag(t, r, moved.Version)
	if !moved.Start.Equal(at(9, 30)) || !moved.End.Equal(at(9, 45)) || moved.Title != "Standup (late)" || moved.Version <= standup.Version {
		t.Fatalf("moved = %+v", moved)
	}
	g.expectAgenda(t, vic, morning, noon, "Standup (late) 09:30-09:45 owner/confirmed pending=false")
	g.expectAgenda(t, quin, morning, noon,
		"Standup (late) 09:30-09:45 auto/confirmed pending=false",
		"Quin's dentist 11:00-12:00 owner/confirmed pending=false")
	g.expectAgenda(t, rex, morning, noon, "Standup (late) 09:30-09:45 auto/confirmed pending=false")
	g.expectAgenda(t, pat, morning, noon, "Standup (late) 09:30-09:45 pending/confirmed pending=true")
	for _, c := range []*client{pat, quin, rex} {
		got := g.notifications(t, c, "")
		if len(got) != notesBefore[c.userID]+1 || !reflect.DeepEqual(note{got[0].Type, got[0].Payload},
			g.roundTrip(note{"updated", apptNote(moved, "confirmed", vic.userID)})) {
			t.Fatalf("%s's notifications after the move: %+v", g.who(c), got)
		}
	}
	if got := g.notifications(t, vic, ""); len(got) != notesBefore[vic.userID] {
		t.Fatalf("the organiser was told of her own move: %+v", got[0])
	}
	// Una declined: it stays out of her agenda, and she is not told.
	g.expectAgenda(t, una, morning, noon)
	if got := g.notifications(t, una, ""); len(got) != notesBefore[una.userID] {
		t.Fatalf("una, who declined, was told of the move: %+v", got[0])
	}
	// Once pat accepts, his time blocks a move too (busy only, no title).
	g.answer(t, pat, standup.ID, "accept")
	board := g.personal(t, pat, slot("Pat's board meeting", at(10, 0), at(11, 0)))
	e, r = g.refuse(t, vic, "PATCH", path, map[string]any{"start": rfc(at(10, 30)), "end": rfc(at(10, 45))}, http.StatusConflict, "schedule_conflict")
	want = []map[string]any{{"user_id": pat.userID, "start": rfc(at(10, 0)), "end": rfc(at(11, 0)), "busy": true}}
	if cs := conflictsOf(t, e, vic.userID); !reflect.DeepEqual(cs, want) {
		t.Fatalf("details.conflicts = %v, want %v", cs, want)
	}
	if strings.Contains(string(r.Body), "board") || strings.Contains(string(r.Body), board.ID) {
		t.Fatalf("the conflict leaks pat's appointment: %s", r.Body)
	}
	// The old slot is free for the imposed members.
	g.personal(t, rex, slot("Rex's coffee", at(9, 0), at(9, 30)))

	// Only the organiser cancels it.
	g.refuse(t, quin, "DELETE", path, nil, http.StatusForbidden, "forbidden")
	g.refuse(t, pat, "DELETE", path, nil, http.StatusForbidden, "forbidden")
	g.write(t, vic, "DELETE", path, nil, http.StatusNoContent)
	for _, c := range []*client{pat, quin, rex, una, vic} {
		a := g.appointment(t, c, standup.ID)
		if a.Status != "cancelled" || a.Title != "Standup (late)" {
			t.Fatalf("after the cancellation %s reads %+v", g.who(c), a)
		}
		g.expectInvitations(t, c)
	}
	g.expectAgenda(t, vic, morning, noon)
	g.expectAgenda(t, pat, morning, noon, "Pat's board meeting 10:00-11:00 owner/confirmed pending=false")
	g.expectAgenda(t, rex, morning, noon, "Rex's coffee 09:00-09:30 owner/confirmed pending=false")
	g.expectAgenda(t, quin, morning, noon, "Quin's dentist 11:00-12:00 owner/confirmed pending=false")
	cancelled := g.roundTrip(note{"cancelled", apptNote(moved, "cancelled", vic.userID, "reason", "deleted")})
	for _, c := range []*client{pat, quin, rex} {
		got := g.notifications(t, c, "")
		if len(got) != notesBefore[c.userID]+2 || !reflect.DeepEqual(note{got[0].Type, got[0].Payload}, cancelled) {
			t.Fatalf("%s's notifications after the cancellation: %+v", g.who(c), got)
		}
	}
	if got := g.notifications(t, una, ""); len(got) != notesBefore[una.userID] {
		t.Fatalf("una, who declined, was told of the cancellation: %+v", got[0])
	}
	// Done for good.
	g.refuse(t, vic, "DELETE", path, nil, http.StatusConflict, "conflict")
	g.refuse(t, vic, "PATCH", path, map[string]any{"title": "Revived"}, http.StatusConflict, "conflict")
	g.refuse(t, pat, "POST", path+"/accept", nil, http.StatusConflict, "conflict")
	g.refuse(t, pat, "POST", path+"/decline", nil, http.StatusConflict, "conflict")
	// Its slot is free for everyone.
	g.personal(t, quin, slot("Quin's walk", at(9, 30), at(9, 45)))
}

// TestE2EGroupsNeverLeak: someone outside a group gets, on every group
// endpoint, the very answer a group that does not exist gets; someone
// outside an appointment gets the answer of an appointment that does not
// exist. Nothing they send is written.
func TestE2EGroupsNeverLeak(t *testing.T) {
	g := newGroupPlay(t)
	al := g.user(t, "al_")
	bo := g.user(t, "bo_")
	eve := g.user(t, "eve")
	team := g.createGroup(t, al, "Secret team", true)
	g.addMember(t, al, team, bo, map[string]any{"username": "bo_"}, 0)
	plan := g.groupAppointment(t, al, team, slot("Secret plan", at(9, 0), at(10, 0)))
	missingGroup := uuid.NewString()
	missingAppt := uuid.NewString()
	window := fmt.Sprintf("from=%s&to=%s", rfc(at(0, 0)), rfc(at(23, 0)))

	type call struct {
		name         string
		method, path string // %s is the group or appointment ID
		body         any
	}
	groupCalls := []call{
		{"read the group", "GET", "/api/groups/%s", nil},
		{"rename the group", "PATCH", "/api/groups/%s", map[string]any{"name": "Mine"}},
		{"delete the group", "DELETE", "/api/groups/%s", nil},
		{"add herself by ID", "POST", "/api/groups/%s/members", map[string]any{"user_id": eve.userID}},
		{"add herself by name with a rank", "POST", "/api/groups/%s/members", map[string]any{"username": "eve", "rank": 5}},
		{"re-rank a member", "PATCH", "/api/groups/%s/members/" + bo.userID, map[string]any{"rank": 1}},
		{"re-rank herself", "PATCH", "/api/groups/%s/members/" + eve.userID, map[string]any{"rank": 1}},
		{"remove a member", "DELETE", "/api/groups/%s/members/" + bo.userID, nil},
		{"leave", "DELETE", "/api/groups/%s/members/" + eve.userID, nil},
		{"set an appointment", "POST", "/api/groups/%s/appointments", slot("Hijack", at(11, 0), at(12, 0))},
		{"read the agenda", "GET", "/api/groups/%s/agenda?" + window, nil},
		{"read the free slots", "GET", "/api/groups/%s/free-slots?duration=30m&" + window, nil},
	}
	apptCalls := []call{
		{"read", "GET", "/api/appointments/%s", nil},
		{"change", "PATCH", "/api/appointments/%s", map[string]any{"title": "Mine"}},
		{"cancel", "DELETE", "/api/appointments/%s", nil},
		{"accept", "POST", "/api/appointments/%s/accept", nil},
		{"decline", "POST", "/api/appointments/%s/decline", nil},
	}
	check := func(t *testing.T, c call, real, missing string) {
		_, rReal := g.refuse(t, eve, c.method, fmt.Sprintf(c.path, real), c.body, http.StatusNotFound, "not_found")
		_, rMissing := g.refuse(t, eve, c.method, fmt.Sprintf(c.path, missing), c.body, http.StatusNotFound, "not_found")
		if string(rReal.Body) != string(rMissing.Body) {
			t.Fatalf("outsider's answer %s differs from the answer for nothing %s", rReal.Body, rMissing.Body)
		}
		for _, leak := range []string{"Secret", al.userID, bo.userID, plan.ID} {
			if strings.Contains(string(rReal.Body), leak) {
				t.Fatalf("the answer leaks %q: %s", leak, rReal.Body)
			}
		}
	}
	for _, c := range groupCalls {
		t.Run("outsider: "+c.name, func(t *testing.T) { check(t, c, team.ID, missingGroup) })
	}
	for _, c := range apptCalls {
		t.Run("outsider: "+c.name+" the appointment", func(t *testing.T) { check(t, c, plan.ID, missingAppt) })
	}
	// Eve's own lists show none of it.
	var list []json.RawMessage
	g.read(t, eve, "/api/groups", &list)
	g.expectInvitations(t, eve)
	if len(list) != 0 {
		t.Fatalf("eve's groups = %s", list)
	}
	if got := g.notifications(t, eve, ""); len(got) != 0 {
		t.Fatalf("eve's notifications = %+v", got)
	}
	// And the group and the plan are as they were.
	if got := decodeGroup(t, g.read(t, al, "/api/groups/"+team.ID, nil), true); got.Name != "Secret team" ||
		!slices.Equal(ranks(got.Members), []string{"al_:1000", "bo_:0"}) {
		t.Fatalf("the group after eve's attempts = %+v", got)
	}
	if a := g.appointment(t, bo, plan.ID); a.Title != "Secret plan" || a.Status != "confirmed" || a.MyStatus != "auto" {
		t.Fatalf("the plan after eve's attempts = %+v", a)
	}

	// A member of the group who is not a participant of an appointment
	// (joined after it was set) cannot see or answer it either.
	cy := g.user(t, "cyd")
	g.addMember(t, al, team, cy, map[string]any{"username": "cyd"}, 0)
	for _, c := range apptCalls {
		t.Run("late member: "+c.name+" the appointment", func(t *testing.T) {
			before := traceOf(t, g.n)
			rReal := cy.withT(t).do(c.method, fmt.Sprintf(c.path, plan.ID), c.body)
			rMissing := cy.withT(t).do(c.method, fmt.Sprintf(c.path, missingAppt), c.body)
			expectError(t, rReal, http.StatusNotFound, "not_found")
			expectNoTrace(t, g.n, before)
			if string(rReal.Body) != string(rMissing.Body) {
				t.Fatalf("answer %s differs from the answer for nothing %s", rReal.Body, rMissing.Body)
			}
		})
	}
}
