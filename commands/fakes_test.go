package commands_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
)

// fakeLog records every proposed batch. Scripted answers are used in order;
// once they run out, every batch commits.
type fakeLog struct {
	mu       sync.Mutex
	batches  []events.Batch
	answers  []func(b events.Batch) (events.Committed, error)
	position int64
}

func (l *fakeLog) Propose(ctx context.Context, b events.Batch) (events.Committed, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, b)
	if len(l.answers) > 0 {
		a := l.answers[0]
		l.answers = l.answers[1:]
		return a(b)
	}
	c := events.Committed{FirstPosition: l.position + 1, LastPosition: l.position + int64(len(b.Events))}
	l.position = c.LastPosition
	return c, nil
}

func (l *fakeLog) proposed() []events.Batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]events.Batch(nil), l.batches...)
}

// fail answers once with err.
func fail(err error) func(events.Batch) (events.Committed, error) {
	return func(events.Batch) (events.Committed, error) { return events.Committed{}, err }
}

// fakeRead is a read model held in maps. Appointment applies the real
// visibility rule (owner or participant).
type fakeRead struct {
	mu             sync.Mutex
	users          map[string]agenda.User // by ID
	appointments   map[string]agenda.Appointment
	schedules      map[string]agenda.Schedule // by user ID
	agendaVersions map[string]int64
	groups         map[string]agenda.Group
	ended          map[string]int64                    // ended memberships' versions, by "group/user"
	notifications  map[string]agenda.NotificationState // by "user/id"
	position       int64
	err            error // when set, every read fails with it

	waited  []int64
	waitErr error
	onWait  func(position int64) // called (locked) by WaitFor
	// afterUserLookup, if set, is called (unlocked) after each
	// UserByUsername: the read model moving on between two reads.
	afterUserLookup func()
	scheduleCalls   int
}

func newFakeRead() *fakeRead {
	return &fakeRead{users: map[string]agenda.User{}, appointments: map[string]agenda.Appointment{},
		schedules: map[string]agenda.Schedule{}, agendaVersions: map[string]int64{},
		groups: map[string]agenda.Group{}, notifications: map[string]agenda.NotificationState{}}
}

func (r *fakeRead) UserByID(ctx context.Context, id string) (agenda.User, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return agenda.User{}, r.err
	}
	u, ok := r.users[id]
	if !ok {
		return u, agenda.Errorf(agenda.ENOTFOUND, "user not found")
	}
	return u, nil
}

func (r *fakeRead) UserByUsername(ctx context.Context, username string) (agenda.User, error) {
	if r.afterUserLookup != nil {
		defer r.afterUserLookup()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return agenda.User{}, r.err
	}
	for _, u := range r.users {
		if u.Username == agenda.FoldUsername(username) { // as the read model looks it up
			return u, nil
		}
	}
	return agenda.User{}, agenda.Errorf(agenda.ENOTFOUND, "user not found")
}

func (r *fakeRead) Appointment(ctx context.Context, id, viewerID string) (agenda.Appointment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return agenda.Appointment{}, r.err
	}
	a, ok := r.appointments[id]
	if !ok {
		return a, agenda.Errorf(agenda.ENOTFOUND, "appointment not found")
	}
	for _, p := range a.Participants {
		if p.UserID == viewerID {
			a.MyStatus = p.Status
			return a, nil
		}
	}
	if a.OwnerID == viewerID {
		a.MyStatus = agenda.RoleOwner
		return a, nil
	}
	return agenda.Appointment{}, agenda.Errorf(agenda.ENOTFOUND, "appointment not found")
}

func (r *fakeRead) Schedule(ctx context.Context, userID string, start, end time.Time, exclude string) (agenda.Schedule, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scheduleCalls++
	if r.err != nil {
		return agenda.Schedule{}, r.err
	}
	s := r.schedules[userID]
	out := agenda.Schedule{Version: s.Version}
	for _, c := range s.Conflicts {
		if c.AppointmentID != exclude {
			out.Conflicts = append(out.Conflicts, c)
		}
	}
	return out, nil
}

func (r *fakeRead) ScheduleVersion(ctx context.Context, userID string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	return r.agendaVersions[userID], nil
}

func (r *fakeRead) Group(ctx context.Context, id, viewerID string) (agenda.Group, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return agenda.Group{}, r.err
	}
	g, ok := r.groups[id]
	if ok {
		for _, m := range g.Members {
			if m.UserID == viewerID && m.Active() {
				g.MyRank = m.Rank
				return g, nil
			}
		}
	}
	return agenda.Group{}, agenda.Errorf(agenda.ENOTFOUND, "group not found")
}

func (r *fakeRead) EndedMembershipVersion(ctx context.Context, groupID, userID string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	return r.ended[groupID+"/"+userID], nil
}

func (r *fakeRead) GroupInvitation(ctx context.Context, groupID, userID string) (agenda.GroupInvitation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return agenda.GroupInvitation{}, r.err
	}
	g, ok := r.groups[groupID]
	if ok {
		for _, m := range g.Members {
			if m.UserID == userID && !m.Active() {
				return agenda.GroupInvitation{GroupID: g.ID, Name: g.Name, Hierarchical: g.Hierarchical, Rank: m.Rank,
					GroupVersion: g.Version}, nil
			}
		}
	}
	return agenda.GroupInvitation{}, agenda.Errorf(agenda.ENOTFOUND, "no invitation to this group")
}

// GroupParticipations returns the group's appointments (by ID) that end
// after after, are not cancelled and have userID among their participants.
func (r *fakeRead) GroupParticipations(ctx context.Context, groupID, userID string, after time.Time) ([]agenda.Appointment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	var ids []string
	for id, a := range r.appointments {
		if a.GroupID != nil && *a.GroupID == groupID && a.Status != agenda.StatusCancelled && a.End.After(after) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []agenda.Appointment
	for _, id := range ids {
		a := r.appointments[id]
		for _, p := range a.Participants {
			if p.UserID == userID {
				a.MyStatus = p.Status
				out = append(out, a)
				break
			}
		}
	}
	return out, nil
}

func (r *fakeRead) PendingGroupAppointments(ctx context.Context, groupID string, now time.Time) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.appointments {
		if a.GroupID == nil || *a.GroupID != groupID || a.Status == agenda.StatusCancelled {
			continue
		}
		// A flat group's pending appointment waits, unless it has ended
		// and its organiser is no longer a member.
		waits := a.Status == agenda.StatusPending && (a.End.After(now) || slices.ContainsFunc(r.groups[groupID].Members,
			func(m agenda.Member) bool { return m.UserID == a.OwnerID && m.Status != agenda.MemberInvited }))
		for _, p := range a.Participants {
			waits = waits || p.Status == agenda.RolePending && a.End.After(now)
		}
		if waits {
			n++
		}
	}
	return n, r.err
}

func (r *fakeRead) PendingInvitations(ctx context.Context, groupID, userID string, now time.Time, limit int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.appointments {
		if a.GroupID == nil || *a.GroupID != groupID || a.Status == agenda.StatusCancelled || !a.End.After(now) {
			continue
		}
		for _, p := range a.Participants {
			if p.UserID == userID && p.Status == agenda.RolePending && n < limit {
				n++
			}
		}
	}
	return n, r.err
}

func (r *fakeRead) NotificationState(ctx context.Context, userID, id string) (agenda.NotificationState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notifications[userID+"/"+id], r.err
}

func (r *fakeRead) Position() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.position
}

func (r *fakeRead) WaitFor(ctx context.Context, position int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waited = append(r.waited, position)
	if r.onWait != nil {
		r.onWait(position)
	}
	return r.waitErr
}

var (
	now      = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	apptFrom = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	apptTo   = apptFrom.Add(time.Hour)
)

const password = "correct horse battery"

// hashOf hashes a password at bcrypt's minimum cost.
func hashOf(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// world is a fake read model with two users, ana (version 3) and bob, and
// appointment a1 (version 5) owned by ana with bob invited (pending).
func world(t testing.TB) *fakeRead {
	t.Helper()
	r := newFakeRead()
	r.users["ana"] = agenda.User{ID: "ana", Username: "ana", DisplayName: "Ana", Email: "ana@example.com",
		PasswordHash: hashOf(t, password), Version: 3}
	r.users["bob"] = agenda.User{ID: "bob", Username: "bob", DisplayName: "Bob", PasswordHash: hashOf(t, password), Version: 1}
	r.appointments["a1"] = agenda.Appointment{ID: "a1", OwnerID: "ana", Title: "Standup", Description: "daily",
		Location: "Room 1", Start: apptFrom, End: apptTo, Privacy: agenda.PrivacyFull, Status: agenda.StatusConfirmed,
		Version: 5, Participants: []agenda.Participant{
			{UserID: "ana", Username: "ana", Status: agenda.RoleOwner},
			{UserID: "bob", Username: "bob", Status: agenda.RolePending},
		}}
	r.schedules["ana"] = agenda.Schedule{Version: 7}
	r.schedules["bob"] = agenda.Schedule{Version: 2}
	r.agendaVersions["ana"] = 7
	r.agendaVersions["bob"] = 2
	return r
}

// newHandlers wires handlers to fakes with a fixed clock, sequential IDs and
// cheap bcrypt.
func newHandlers(log commands.Log, read commands.ReadModel) *commands.Handlers {
	h := commands.New(log, read, "node-x")
	h.Now = func() time.Time { return now }
	var mu sync.Mutex
	n := 0
	h.NewID = func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("id-%03d", n)
	}
	h.BcryptCost = bcrypt.MinCost
	h.Level = func() int { return events.Level }
	return h
}

func ptr[T any](v T) *T { return &v }

// wantCode checks err's agenda code and, when field is given, its
// details.field.
func wantCode(t *testing.T, err error, code, field string) {
	t.Helper()
	if got := agenda.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if field == "" {
		return
	}
	if got := agenda.ErrorDetails(err)["field"]; got != field {
		t.Errorf("details.field = %v, want %q (error: %v)", got, field, err)
	}
}

// wantMessage checks the message an agenda error says.
func wantMessage(t *testing.T, err error, msg string) {
	t.Helper()
	if got := agenda.ErrorMessage(err); got != msg {
		t.Errorf("error message = %q, want %q", got, msg)
	}
}

// ifMatchOf is the If-Match of a test case's version: none for 0.
func ifMatchOf(v int64) commands.IfMatch {
	if v == 0 {
		return commands.IfMatch{}
	}
	return commands.Versions(v)
}
