package main

// Scenario plumbing of the group end-to-end tests (groups_*_e2e_test.go): a
// groupPlay, its people, and helpers that write, read and decode through
// HTTP and check each answer.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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
	memberKeys = []string{"user_id", "username", "display_name", "rank", "status", "joined_at", "version", "origin_node"}
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
	Actor      *apiPerson     `json:"actor"`
	Subject    *apiPerson     `json:"subject"`
}

// apiPerson is a user a notification names.
type apiPerson struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
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
		var n apiNotification
		if err := json.Unmarshal(r, &n); err != nil {
			t.Fatal(err)
		}
		// It names whom its payload names (every user here is known): the
		// actor (by), and the subject (user_id) where there is one.
		keys := slices.Clone(notificationKeys)
		by, _ := n.Payload["by"].(string)
		if by != "" {
			keys = append(keys, "actor")
		}
		subject, _ := n.Payload["user_id"].(string)
		if subject != "" {
			keys = append(keys, "subject")
		}
		expectKeys(t, r, keys...)
		if by != "" && (n.Actor.ID != by || n.Actor.Username == "") || subject != "" && (n.Subject.ID != subject || n.Subject.Username == "") {
			t.Fatalf("notification of %s names other people than its payload: %s", g.who(c), r)
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
	// API.md: a resource's version starts at 1.
	if grp.Version != 1 || grp.Members[0].Version != 1 {
		t.Fatalf("created group at version %d, its creator's membership at %d; want 1 and 1", grp.Version, grp.Members[0].Version)
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
	if m.Version != 1 {
		t.Fatalf("invited member at version %d, want 1 (a membership counts its own changes)", m.Version)
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
	if m.Version != 2 {
		t.Fatalf("accepted member at version %d, want 2 (invited, then accepted)", m.Version)
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
	if a.Version != 1 {
		t.Fatalf("group appointment at version %d, want 1 (its participants are part of its creation)", a.Version)
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
