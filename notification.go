package agenda

import (
	"encoding/json"
	"time"
)

// Notification types.
const (
	NotifyInvitation    = "invitation"
	NotifyImposed       = "imposed"
	NotifyAccepted      = "accepted"
	NotifyDeclined      = "declined"
	NotifyConfirmed     = "confirmed"
	NotifyCancelled     = "cancelled"
	NotifyUpdated       = "updated"
	NotifyMemberAdded   = "member_added"
	NotifyMemberRemoved = "member_removed"
	NotifyRankChanged   = "rank_changed"
	// NotifyGroupInvitation invites a user to join a group; they become a
	// member only by accepting.
	NotifyGroupInvitation = "group_invitation"
	// NotifyGroupInvitationDeclined tells whoever invited someone to a
	// group that they declined.
	NotifyGroupInvitationDeclined = "group_invitation_declined"
	// NotifyCreatorChanged tells a member they now hold the creator's
	// rights, the creator having left.
	NotifyCreatorChanged = "creator_changed"
	// NotifyGroupDeleted tells the members of a group that its creator
	// deleted it (those only invited hear it as member_removed, deleted).
	NotifyGroupDeleted = "group_deleted"
	// NotifyParticipantRemoved tells an organiser that someone no longer
	// takes part in their appointment: they left its group, or were
	// removed from it.
	NotifyParticipantRemoved = "participant_removed"
)

// NotificationTypes lists every notification type, for those that must
// handle each (the web UI's texts; a test parses the constants above to keep
// the list whole).
var NotificationTypes = []string{
	NotifyInvitation, NotifyImposed, NotifyAccepted, NotifyDeclined, NotifyConfirmed, NotifyCancelled,
	NotifyUpdated, NotifyMemberAdded, NotifyMemberRemoved, NotifyRankChanged, NotifyGroupInvitation,
	NotifyGroupInvitationDeclined, NotifyCreatorChanged, NotifyGroupDeleted, NotifyParticipantRemoved,
}

// MaxNotificationsKept is how many of a user's notifications are kept: the
// newest, read or not. Without it a user's notifications grew for good,
// one for every invitation, answer and change of the groups they are in.
// The read model prunes them by count, in the order of the events, so that
// a read model rebuilt from the log keeps the same ones as one that
// projected them live (a bound by age would keep what the clock said).
const MaxNotificationsKept = 1000

// Notification tells a user of something that concerns them. Its payload
// holds only what the recipient may see.
type Notification struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
	// Actor is who acted (the payload's "by") and Subject whom it is about
	// (its "user_id": who answered, joined, left), as they are called now,
	// so that the text can name them; nil where the payload names nobody
	// or the read model knows no such user.
	Actor     *UserSummary `json:"actor,omitempty"`
	Subject   *UserSummary `json:"subject,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	ReadAt    *time.Time   `json:"read_at"`
	// Position is the global position of the event it was derived from.
	Position   int64  `json:"position"`
	Version    int64  `json:"version"`
	OriginNode string `json:"origin_node"`
}

// NotificationState is what a command needs to mark notifications read.
type NotificationState struct {
	// StreamVersion is the version of the user's notification stream.
	StreamVersion int64
	// Found and Read describe the notification asked for, if any, and
	// Version is its version (what If-Match on marking it read compares).
	Found, Read bool
	Version     int64
	// Unread counts the user's unread notifications.
	Unread int
	// Latest is the position of the user's newest notification.
	Latest int64
}
