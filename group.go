package agenda

import (
	"fmt"
	"time"
)

// Ranks are integers in [MinRank, MaxRank]; higher means more senior. The
// creator of a hierarchical group holds MaxRank, so no one can be ranked
// level with or above them. Every member of a flat group has rank 0.
const (
	MinRank = 0
	MaxRank = 1000
)

// CreatorRank is the rank a group's creator joins it at: the top rank in a
// hierarchical group, the only rank in a flat one.
func CreatorRank(hierarchical bool) int {
	if hierarchical {
		return MaxRank
	}
	return 0
}

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
// For an invited person JoinedAt is when they were invited. Version counts
// the changes to this membership alone (1 when invited, or when the group is
// created for its creator; one more on accepting and at each new rank), so
// that an If-Match on one member fails only when that member changed. A
// person removed and invited again counts on from where their last
// membership ended, so no ETag of the old one matches the new one.
type Member struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	// DisplayName is the name the member chose (their username if they
	// chose none), as it is now: what people are called on screen.
	DisplayName string    `json:"display_name"`
	Rank        int       `json:"rank"`
	Status      string    `json:"status"`
	JoinedAt    time.Time `json:"joined_at"`
	Version     int64     `json:"version"`
	OriginNode  string    `json:"origin_node"`
	// RankedBy is, for an invited person, whose authority the
	// invitation's rank rests on: its inviter, a member who re-ranked it
	// since, or the heir of a creator who did either (InvitationsBeyond).
	RankedBy string `json:"-"`
}

// Summary is who m is, as other people see them.
func (m Member) Summary() UserSummary {
	return UserSummary{ID: m.UserID, Username: m.Username, DisplayName: m.DisplayName}
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

// InvitationsBeyond returns the pending invitations whose rank rests on
// userID's authority (Member.RankedBy) and that it no longer covers once
// they hold rank, or once they are no longer a member (member false): all
// of them then, and in a hierarchical group those at a rank they may no
// longer give (one at or above their own). An invitation accepted
// completes the act of whoever set its rank, so it may not outlast their
// right to it: an attacker's review had a manager invite a second account
// of theirs at the rank below their own (or raise another's invitation to
// it), be removed (or demoted), and the account accept and then read and
// impose on the members below it.
func (g Group) InvitationsBeyond(userID string, rank int, member bool) []Member {
	var out []Member
	for _, m := range g.Members {
		if m.Active() || m.RankedBy != userID {
			continue
		}
		if !member || g.Hierarchical && !g.outranks(rank, m.Rank) {
			out = append(out, m)
		}
	}
	return out
}

// GroupInvitation is an invitation to join a group, as the invited person
// sees it before answering: only the group's name and kind, not its members.
type GroupInvitation struct {
	GroupID      string `json:"group_id"`
	Name         string `json:"name"`
	Hierarchical bool   `json:"hierarchical"`
	Rank         int    `json:"rank"`
	InvitedBy    string `json:"invited_by"`
	// Inviter is who InvitedBy is, as they are called now (nil if this
	// node does not know them), so that the invited person can tell who
	// asks them in before answering.
	Inviter   *UserSummary `json:"inviter,omitempty"`
	InvitedAt time.Time    `json:"invited_at"`
	// GroupVersion is the version of the group stream when read: accepting
	// or declining expects it.
	GroupVersion int64 `json:"-"`
	// MemberVersion is the version of the invitation itself (a membership
	// not yet accepted), which accepting moves on: what If-Match on
	// accepting or declining compares with.
	MemberVersion int64 `json:"version"`
}

// CanManage is the rank rule: it reports whether the member reading g (of
// rank g.MyRank) stands above a member of the given rank. Only in a
// hierarchical group, and only over strictly lower ranks: equals and flat
// groups manage no one by rank. Standing above is what lets a member impose
// appointments on another, give ranks, re-rank or remove them, and see the
// details of their full-privacy entries (SeesDetails). readmodel.GroupAgenda
// repeats the rule in SQL; readmodel's visibility test proves they agree.
func (g Group) CanManage(rank int) bool { return g.outranks(g.MyRank, rank) }

// outranks is the rank rule itself, for any two ranks of g: above stands
// over below only in a hierarchical group and only when strictly higher.
// CanManage, Imposes and InvitationsBeyond all read it from here.
func (g Group) outranks(above, below int) bool { return g.Hierarchical && above > below }

// Member returns userID's membership of g (or invitation to it), if g's
// members were read.
func (g Group) Member(userID string) (Member, bool) {
	for _, m := range g.Members {
		if m.UserID == userID {
			return m, true
		}
	}
	return Member{}, false
}

// Imposes reports whether an appointment of g organised by organiserID
// binds userID now: both are members (not merely invited), and the
// organiser stands above them by the rank rule (CanManage). An imposition
// binds no longer than that: once the organiser has left, the participant
// has left, the group is gone, or a new rank puts the organiser level with
// or below them, the participant may decline it like an invitation. Until
// they do, it stays in their agenda and blocks their time as before.
func (g Group) Imposes(organiserID, userID string) bool {
	o, ok := g.Member(organiserID)
	if !ok || !o.Active() {
		return false
	}
	m, ok := g.Member(userID)
	if !ok || !m.Active() {
		return false
	}
	return g.outranks(o.Rank, m.Rank)
}

// MemberAgenda is one member's entries in a group agenda view.
type MemberAgenda struct {
	UserID      string             `json:"user_id"`
	Username    string             `json:"username"`
	DisplayName string             `json:"display_name"`
	Entries     []GroupAgendaEntry `json:"entries"`
}

// GroupAgendaEntry is an entry of a group agenda as the viewer may see it.
// A masked entry has only start, end and busy=true: its Entry is nil,
// and encoding/json writes none of a nil embedded struct's fields. A
// detailed one embeds the member's agenda entry and has busy=false.
type GroupAgendaEntry struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Busy  bool      `json:"busy"`
	*Entry
}

// Interval is a half-open span of time [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// MaxPendingInvitations bounds the invitations one member may have waiting
// for an answer in one group, counting appointments that have not ended: a
// group appointment that would invite someone beyond it is refused
// (TooManyPendingInvitations). Any member of a group may invite those of
// equal or higher rank, or everyone in a flat group, and nothing else held
// them back: an attacker's review set 10,001 one-minute appointments in a
// week, which made the victim's week unreadable (past MaxAgendaEntries) and
// the group undeletable while they waited. Imposed appointments are not
// counted: those come from a rank the member accepted to be below. A
// thousand is years of weekly meetings still to answer; the bound holds per
// group, so several groups flood someone only as far as they chose to join
// them.
const MaxPendingInvitations = 1000

// TooManyPendingInvitations is the refusal of a group appointment that would
// give each of userIDs more than MaxPendingInvitations invitations waiting in
// the group: a conflict with their unanswered invitations, which answering
// (or the organiser cancelling some) resolves.
func TooManyPendingInvitations(userIDs []string) *Error {
	who := "a member already has"
	if len(userIDs) > 1 {
		who = fmt.Sprintf("%d members already have", len(userIDs))
	}
	return Errorf(ECONFLICT, "%s %d invitations of this group waiting for an answer: they must answer some before they are invited again",
		who, MaxPendingInvitations).WithDetails(map[string]any{
		"user_ids": userIDs, "max_pending_invitations": MaxPendingInvitations})
}
