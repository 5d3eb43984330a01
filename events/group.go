package events

// GroupStream is the stream of one group: its settings and its membership.
// Commands that depend on who is in a group, and at which rank, expect this
// stream at the version they read, so a membership change and a decision
// based on the old membership cannot both commit.
func GroupStream(groupID string) string { return "group-" + groupID }

// GroupCreated is the first event of a group stream. It makes its creator a
// member at agenda.CreatorRank: a group's creation is one event, so the
// group's version starts at 1 (schema version 2, event level 2).
//
// At schema version 1 the creator's GroupMemberAdded followed in the same
// batch. Such an event decodes with CreatorFollows set, and one written
// with CreatorFollows set is written at version 1, which builds below
// event level 2 read: commands write that form while the cluster is below
// level 2 (see Level).
type GroupCreated struct {
	GroupID      string `json:"group_id"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	Hierarchical bool   `json:"hierarchical"`
	CreatorID    string `json:"creator_id"`
	// CreatorFollows says that the creator's membership is not this
	// event's but a GroupMemberAdded's after it. It is never encoded: the
	// schema version carries it.
	CreatorFollows bool `json:"-"`
}

// schemaVersion writes the form whose creator's membership follows at
// version 1.
func (e GroupCreated) schemaVersion() int {
	if e.CreatorFollows {
		return 1
	}
	return 2
}

// GroupUpdated carries the whole new state of a group's editable fields.
type GroupUpdated struct {
	GroupID     string `json:"group_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// GroupDeleted ends a group stream. Appointments already made in the group
// stay in their participants' agendas.
type GroupDeleted struct {
	GroupID string `json:"group_id"`
}

// GroupMemberAdded makes a user a member of a group at a rank, without an
// invitation. Membership is by consent, so it is written only for a group's
// creator, after a GroupCreated whose CreatorFollows, while the cluster is
// below event level 2. Logs written before hold it for every creator and
// every member added, and such memberships count as accepted.
type GroupMemberAdded struct {
	GroupID string `json:"group_id"`
	UserID  string `json:"user_id"`
	Rank    int    `json:"rank"`
}

// GroupMemberInvited invites a user to join a group at a rank. Membership
// is by consent: the invited person is no member (nothing is imposed on
// them, they see nothing of the group) until a GroupInvitationAccepted.
// Removing them before that (GroupMemberRemoved) withdraws the invitation.
type GroupMemberInvited struct {
	GroupID   string `json:"group_id"`
	UserID    string `json:"user_id"`
	Rank      int    `json:"rank"`
	InvitedBy string `json:"invited_by"`
}

// GroupInvitationAccepted makes an invited person a member of the group at
// the rank of their invitation (as it stands when they accept).
type GroupInvitationAccepted struct {
	GroupID string `json:"group_id"`
	UserID  string `json:"user_id"`
}

// GroupInvitationDeclined ends an invitation unanswered; the person may be
// invited again.
type GroupInvitationDeclined struct {
	GroupID string `json:"group_id"`
	UserID  string `json:"user_id"`
}

// GroupMemberRankChanged gives a member a new rank.
type GroupMemberRankChanged struct {
	GroupID string `json:"group_id"`
	UserID  string `json:"user_id"`
	Rank    int    `json:"rank"`
}

// GroupMemberRemoved takes a user out of a group. Left is true when the
// member left on their own.
type GroupMemberRemoved struct {
	GroupID string `json:"group_id"`
	UserID  string `json:"user_id"`
	Left    bool   `json:"left"`
}

// GroupCreatorChanged hands the creator's rights (changing and deleting the
// group, removing members of a flat one) to another member: when the
// creator leaves a group that still has members, to the most senior of them.
type GroupCreatorChanged struct {
	GroupID string `json:"group_id"`
	UserID  string `json:"user_id"`
}

// EventType implements Event; the names are the registered type names.
func (GroupCreatorChanged) EventType() string     { return "group.creator_changed" }
func (GroupCreated) EventType() string            { return "group.created" }
func (GroupUpdated) EventType() string            { return "group.updated" }
func (GroupDeleted) EventType() string            { return "group.deleted" }
func (GroupMemberAdded) EventType() string        { return "group.member_added" }
func (GroupMemberRankChanged) EventType() string  { return "group.member_rank_changed" }
func (GroupMemberInvited) EventType() string      { return "group.member_invited" }
func (GroupInvitationAccepted) EventType() string { return "group.invitation_accepted" }
func (GroupInvitationDeclined) EventType() string { return "group.invitation_declined" }
func (GroupMemberRemoved) EventType() string      { return "group.member_removed" }

func init() {
	// Version 2 makes the creator a member; in version 1 (the same shape)
	// the creator's GroupMemberAdded followed. A build that knows only
	// version 1 halts on version 2 instead of projecting a group without
	// its creator.
	register[GroupCreated]("group.created", 2)
	registerPast("group.created", 1, func(v1 GroupCreated) GroupCreated {
		v1.CreatorFollows = true
		return v1
	})
	register[GroupUpdated]("group.updated", 1)
	register[GroupDeleted]("group.deleted", 1)
	register[GroupMemberAdded]("group.member_added", 1)
	register[GroupMemberRankChanged]("group.member_rank_changed", 1)
	register[GroupMemberRemoved]("group.member_removed", 1)
	register[GroupCreatorChanged]("group.creator_changed", 1)
	register[GroupMemberInvited]("group.member_invited", 1)
	register[GroupInvitationAccepted]("group.invitation_accepted", 1)
	register[GroupInvitationDeclined]("group.invitation_declined", 1)
}
