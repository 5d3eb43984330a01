package commands

import (
	"slices"
	"sort"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// A write answers with the state its own events produced. Reading the read
// model after the write committed is not that: by the time the local read
// model shows the write, a later write may have changed or deleted the
// resource, and the answer (and its ETag) would describe a state the client
// never produced — a client sending If-Match with that ETag would overwrite
// a change it never saw.
//
// The batch commits only if every stream it expects is still at the version
// the command read, so the state a command decided on plus the events of its
// batch is exactly the state the batch leaves behind. The fold functions
// below apply a batch's events to that state the way the projections do.

// appointmentAfter returns appointment id as the events of b leave it, seen
// by viewer, starting from before (the state the command read; zero for an
// appointment the batch creates). people names the users the batch makes
// participants. ok is false if the batch deletes the appointment.
func appointmentAfter(before agenda.Appointment, b *batch, id, viewer string, people map[string]agenda.UserSummary) (a agenda.Appointment, ok bool) {
	a = before
	a.Participants = append([]agenda.Participant(nil), before.Participants...)
	stream := events.AppointmentStream(id)
	exists := before.ID != ""
	setParticipant := func(userID, status string) {
		for i := range a.Participants {
			if a.Participants[i].UserID == userID {
				a.Participants[i].Status = status
				return
			}
		}
		who := people[userID]
		a.Participants = append(a.Participants, agenda.Participant{UserID: userID, Username: who.Username,
			DisplayName: who.DisplayName, Status: status})
	}
	eachEvent(b, stream, func(env *events.Envelope, ev events.Event) {
		switch e := ev.(type) {
		case events.AppointmentCreated:
			a = agenda.Appointment{ID: e.AppointmentID, OwnerID: e.OwnerID, GroupID: nullable(e.GroupID),
				Title: e.Title, Description: e.Description, Location: e.Location, Start: e.Start, End: e.End,
				Privacy: e.Privacy, Status: e.Status, CreatedAt: env.Time}
			exists = true
			setParticipant(e.OwnerID, agenda.RoleOwner)
			for _, p := range e.Participants {
				setParticipant(p.UserID, p.Status)
			}
		case events.AppointmentUpdated:
			a.Title, a.Description, a.Location = e.Title, e.Description, e.Location
			a.Start, a.End, a.Privacy = e.Start, e.End, e.Privacy
		case events.AppointmentDeleted:
			exists = false
		case events.AppointmentParticipantAdded:
			setParticipant(e.UserID, e.Status)
		case events.AppointmentParticipantRemoved:
			a.Participants = slices.DeleteFunc(a.Participants, func(p agenda.Participant) bool { return p.UserID == e.UserID })
		case events.AppointmentAccepted:
			setParticipant(e.UserID, agenda.RoleAccepted)
		case events.AppointmentDeclined:
			setParticipant(e.UserID, agenda.RoleDeclined)
		case events.AppointmentConfirmed:
			a.Status = agenda.StatusConfirmed
		case events.AppointmentCancelled:
			a.Status = agenda.StatusCancelled
		}
		a.UpdatedAt, a.Version, a.OriginNode = env.Time, env.Version, env.OriginNode
	})
	if !exists {
		return agenda.Appointment{}, false
	}
	// The order the read model lists them in.
	sort.SliceStable(a.Participants, func(i, j int) bool {
		pi, pj := a.Participants[i], a.Participants[j]
		if pi.Username != pj.Username {
			return pi.Username < pj.Username
		}
		return pi.UserID < pj.UserID
	})
	a.MyStatus = ""
	for _, p := range a.Participants {
		if p.UserID == viewer {
			a.MyStatus = p.Status
		}
	}
	return a, true
}

// eachEvent calls fn with each event b writes to stream, in order: the
// events as the command made them, which are what their envelopes encode.
func eachEvent(b *batch, stream string, fn func(env *events.Envelope, ev events.Event)) {
	for i := range b.b.Events {
		env := &b.b.Events[i]
		if env.Stream != stream {
			continue
		}
		fn(env, b.typed[i])
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// userAfter returns user id as the events of b leave it, starting from
// before (zero for a user the batch registers).
func userAfter(before agenda.User, b *batch, id string) (u agenda.User, ok bool) {
	u = before
	stream := events.UserStream(id)
	eachEvent(b, stream, func(env *events.Envelope, ev events.Event) {
		switch e := ev.(type) {
		case events.UserRegistered:
			u = agenda.User{ID: e.UserID, Username: e.Username, DisplayName: e.DisplayName, Email: e.Email,
				PasswordHash: e.PasswordHash, CreatedAt: env.Time}
		case events.UserProfileChanged:
			u.DisplayName, u.Email = e.DisplayName, e.Email
		case events.UserPasswordChanged:
			u.PasswordHash = e.PasswordHash
		}
		u.Version, u.OriginNode = env.Version, env.OriginNode
	})
	return u, u.ID != ""
}

// joiner is someone a batch makes a member of a group (or invites): who
// they are, and the version their last membership of the group ended at (0
// if none), which the new one counts on from.
type joiner struct {
	who   agenda.UserSummary
	ended int64
}

// groupAfter returns group id as the events of b leave it, seen by viewer,
// starting from before (the group as the command read it, with its members;
// zero for a group the batch creates). joining describes the users the
// batch adds. ok is false if the batch deletes the group.
func groupAfter(before agenda.Group, b *batch, id, viewer string, joining map[string]joiner) (g agenda.Group, ok bool) {
	g = before
	g.Members = append([]agenda.Member(nil), before.Members...)
	exists := before.ID != ""
	stream := events.GroupStream(id)
	find := func(userID string) int {
		for i := range g.Members {
			if g.Members[i].UserID == userID {
				return i
			}
		}
		return -1
	}
	remove := func(userID string) {
		if i := find(userID); i >= 0 {
			g.Members = append(g.Members[:i], g.Members[i+1:]...)
		}
	}
	eachEvent(b, stream, func(env *events.Envelope, ev events.Event) {
		// set adds a member (or, for a known one, changes the rank), as
		// the projection's upsert does: status and joined_at stay.
		set := func(userID string, rank int, status string) {
			if i := find(userID); i >= 0 {
				m := &g.Members[i]
				m.Rank, m.Version, m.OriginNode = rank, m.Version+1, env.OriginNode
				return
			}
			j := joining[userID]
			g.Members = append(g.Members, agenda.Member{UserID: userID, Username: j.who.Username, DisplayName: j.who.DisplayName, Rank: rank,
				Status: status, JoinedAt: env.Time, Version: j.ended + 1, OriginNode: env.OriginNode})
		}
		switch e := ev.(type) {
		case events.GroupCreated:
			g = agenda.Group{ID: e.GroupID, Name: e.Name, Description: e.Description, Hierarchical: e.Hierarchical,
				CreatorID: e.CreatorID, CreatedAt: env.Time}
			exists = true
			if !e.CreatorFollows {
				set(e.CreatorID, agenda.CreatorRank(e.Hierarchical), agenda.MemberActive)
			}
		case events.GroupUpdated:
			g.Name, g.Description = e.Name, e.Description
		case events.GroupDeleted:
			exists = false
		case events.GroupMemberAdded:
			set(e.UserID, e.Rank, agenda.MemberActive)
		case events.GroupMemberInvited:
			set(e.UserID, e.Rank, agenda.MemberInvited)
		case events.GroupInvitationAccepted:
			if i := find(e.UserID); i >= 0 {
				m := &g.Members[i]
				m.Status, m.JoinedAt, m.Version, m.OriginNode = agenda.MemberActive, env.Time, m.Version+1, env.OriginNode
			}
		case events.GroupInvitationDeclined:
			remove(e.UserID)
		case events.GroupMemberRankChanged:
			set(e.UserID, e.Rank, agenda.MemberActive)
		case events.GroupCreatorChanged:
			g.CreatorID = e.UserID
		case events.GroupMemberRemoved:
			remove(e.UserID)
		}
		g.UpdatedAt, g.Version, g.OriginNode = env.Time, env.Version, env.OriginNode
	})
	if !exists {
		return agenda.Group{}, false
	}
	// The order the read model lists members in: active before invited,
	// senior first, then by name.
	sort.SliceStable(g.Members, func(i, j int) bool {
		a, b := g.Members[i], g.Members[j]
		switch {
		case a.Status != b.Status:
			return a.Status < b.Status
		case a.Rank != b.Rank:
			return a.Rank > b.Rank
		case a.Username != b.Username:
			return a.Username < b.Username
		}
		return a.UserID < b.UserID
	})
	g.MyRank, g.MemberCount = 0, 0
	for _, m := range g.Members {
		if !m.Active() {
			continue
		}
		g.MemberCount++
		if m.UserID == viewer {
			g.MyRank = m.Rank
		}
	}
	return g, true
}

// answer is what a command's Result carries: the state a fold above
// returns, or nil if the batch deletes the resource.
func answer[T any](after T, exists bool) *T {
	if !exists {
		return nil
	}
	return &after
}
