package agenda

import "time"

// Ranks are integers in [MinRank, MaxRank]; higher means more senior. The
// creator of a hierarchical group holds MaxRank, so no one can be ranked
// level with or above them. Every member of a flat group has rank 0.
const (
	MinRank = 0
	MaxRank = 1000
)

// Group is a group as its members see it. Members is filled only when one
// group is read.
type Group struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Hierarchical bool      `json:"hierarchical"`
	CreatorID    string    `json:"creator_id"`
	MyRank       int       `json:"my_rank"`
	MemberCount  int       `json:"member_count"`
	Members      []Member  `json:"members,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Version      int64     `json:"version"`
	OriginNode   string    `json:"origin_node"`
}

// Membership statuses. Membership is by consent: adding someone invites
// them, and only once they accept are they a member ("active"). Memberships
// committed before invitations existed (a group.member_added event) are
// active.
const (
	MemberActive  = "active"
	MemberInvited = "invited"
)

// Member is one person's membership of a group, or their invitation to it.
// For an invited person JoinedAt is when they were invited.
type Member struct {
	UserID     string    `json:"user_id"`
	Username   string    `json:"username"`
	Rank       int       `json:"rank"`
	Status     string    `json:"status"`
	JoinedAt   time.Time `json:"joined_at"`
	Version    int64     `json:"version"`
	OriginNode string    `json:"origin_node"`
}

// Active reports whether m is a member rather than an invited person. An
// empty status counts as active, as memberships did before invitations.
func (m Member) Active() bool { return m.Status != MemberInvited }

// ActiveMembers returns the members of g who accepted (or created it): the
// people the group's appointments, agenda and free slots are about. Invited
// people are left out; they have nothing imposed and see nothing.
func (g Group) ActiveMembers() []Member {
	out := make([]Member, 0, len(g.Members))
	for _, m := range g.Members {
		if m.Active() {
			out = append(out, m)
		}
	}
	return out
}

// GroupInvitation is an invitation to join a group, as the invited person
// sees it before answering: only the group's name and kind, not its members.
type GroupInvitation struct {
	GroupID      string    `json:"group_id"`
	Name         string    `json:"name"`
	Hierarchical bool      `json:"hierarchical"`
	Rank         int       `json:"rank"`
	InvitedBy    string    `json:"invited_by"`
	InvitedAt    time.Time `json:"invited_at"`
	// GroupVersion is the version of the group stream when read: accepting
	// or declining expects it.
	GroupVersion int64 `json:"-"`
}

// Outranks reports whether a member of rank a is strictly senior to one of
// rank b in this group: never in a flat group.
func (g Group) Outranks(a, b int) bool { return g.Hierarchical && a > b }

// EntryView is what decides whether a viewer of a group agenda sees the
// details of one entry in a member's agenda.
type EntryView struct {
	// Hierarchical is the kind of the group whose agenda is viewed.
	Hierarchical bool
	// GroupID is the group whose agenda is viewed.
	GroupID string
	// ViewerRank and MemberRank are the ranks in that group of the viewer
	// and of the member whose agenda holds the entry.
	ViewerRank, MemberRank int
	// Own is true when the entry is in the viewer's own agenda.
	Own bool
	// TakesPart is true when the viewer takes part in the appointment too
	// (it is in their own agenda as well).
	TakesPart bool
	// Privacy is the appointment's privacy.
	Privacy string
	// EntryGroupID is the appointment's group; "" for a personal one.
	EntryGroupID string
}

// SeesDetails is the visibility rule of group agendas: a viewer sees an
// entry's details if it is their own or they take part in it, or if, in a
// hierarchical group, they rank above the member, the entry's privacy is
// full, and it is the member's personal appointment or one of this same
// group. Everything else shows only as busy time, so no group reveals what
// its members do in other groups. readmodel.GroupAgenda repeats the rule in
// SQL (so hidden titles never leave the database); a table test proves the
// two agree.
func SeesDetails(v EntryView) bool {
	if v.Own || v.TakesPart {
		return true
	}
	return v.Hierarchical && v.ViewerRank > v.MemberRank && v.Privacy == PrivacyFull &&
		(v.EntryGroupID == "" || v.EntryGroupID == v.GroupID)
}

// MemberAgenda is one member's entries in a group agenda view.
type MemberAgenda struct {
	UserID   string             `json:"user_id"`
	Username string             `json:"username"`
	Entries  []GroupAgendaEntry `json:"entries"`
}

// GroupAgendaEntry is an entry of a group agenda as the viewer may see it.
// A masked entry has only start, end and busy=true: its AgendaEntry is nil,
// and encoding/json writes none of a nil embedded struct's fields. A
// detailed one embeds the member's agenda entry and has busy=false.
type GroupAgendaEntry struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Busy  bool      `json:"busy"`
	*AgendaEntry
}

// Interval is a half-open span of time [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}
