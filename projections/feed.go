package projections

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// feed derives the per-user feed entries of one event, in the planning
// projection's transaction, so that who may see an event is decided with the
// memberships, participations and privacy of exactly that moment:
//
//   - an appointment's events go to everyone who takes part in it (who may
//     read it), with the event's data — a participant's removal to the
//     person removed too; an appointment's change also to those who see
//     one of its entries without taking part (appointmentChanged);
//   - a group's events go to its active members (and an invitation, its
//     withdrawal or refusal, the group's renaming and its deletion, to the
//     people invited, who see nothing else);
//   - an agenda entry's events go to its owner in full, and to the people
//     who share a group with the owner but take no part in its appointment
//     (who have the appointment's own events) as agenda.SeesEntry decides: details,
//     or only {user_id, start, end, busy} — and then only if the entry
//     blocks time (as the group agenda shows it), on the owner's agenda
//     stream at version 0;
//   - a user's profile change goes to that user, and its display name to
//     those shown it in a group (NamedByIDs), at version 0;
//   - a user's notification-read events go to that user.
//
// Removals are decided on the state before the event (the members of a
// group being deleted, the slot of an entry being removed); everything else
// on the state after it.
//
// The people only invited to a group get its events on the group's stream
// at version 0: its version counts the events they may not see.
//
// An event that takes from someone the right to see what their feed told
// them revokes their feed before it (readmodel.Tx.RevokeFeed): removing a
// member or deleting a group (from every member: they saw each other's
// agendas through it), changing a member's rank (from every member: who
// sees whose details changes), hiding an appointment's details (from
// those who saw them until then), and an entry leaving the group agendas —
// deleted, cancelled, declined — (from those who saw it in full without
// taking part). What a user was once shown is otherwise theirs to read
// again: a deleted appointment's events stay in its participants' feeds,
// and so do an appointment's events in the feed of a participant removed
// from it. That happens when they leave its group (whose removal revoked
// their feed just before, in the same command), or when an appointment
// they took part in had ended when they left and is changed: what they
// were told of it since, they were told as a participant.
type feed struct {
	tx  *readmodel.Tx
	env *events.Envelope
	// records are the entries decided so far, one per user, in the order
	// decided (deterministic); seen indexes them by user once there are
	// too many to scan (a big group's members).
	records []readmodel.FeedRecord
	seen    map[string]struct{}
	// For an agenda entry's event: the entry as it was before the event,
	// who else may see it, and the details for those allowed them.
	slot    readmodel.EntrySlot
	viewers []readmodel.EntryViewer
	detail  json.RawMessage
	// For an appointment's change: what it was before.
	before readmodel.AppointmentDetail
	// For a group's change: its name before.
	groupName string
	// revoked are the users whose feed before this event is revoked.
	revoked []string
	// decided is set when feedBefore decided who sees the event, from the
	// state it ends (a removal, a deletion); after decides for every
	// other type.
	decided bool
}

// errNoFeedRule is a planning event whose readers the feed does not
// decide: it would reach nobody's feed without a word.
var errNoFeedRule = errors.New("the feed has no rule for this event type")

// feedBefore reads what the event's feed needs from the state it changes.
func feedBefore(tx *readmodel.Tx, env *events.Envelope, ev events.Event) (*feed, error) {
	f := &feed{tx: tx, env: env}
	var err error
	switch e := ev.(type) {
	case events.AppointmentDeleted:
		f.decided = true
		if err = f.toAll(tx.ParticipantIDs(e.AppointmentID)); err == nil {
			err = f.revokeDetailsOf(e.AppointmentID)
		}
	case events.AppointmentParticipantRemoved:
		f.decided = true
		err = f.toAll(tx.ParticipantIDs(e.AppointmentID))
	case events.AppointmentUpdated:
		f.before, err = tx.AppointmentDetail(e.AppointmentID)
	case events.GroupUpdated:
		f.groupName, err = tx.GroupName(e.GroupID)
	case events.GroupDeleted:
		f.decided = true
		var members []string
		if members, err = tx.GroupMemberIDs(e.GroupID); err == nil {
			f.toAll(members, nil)
			f.revoked = members
			err = f.toAllInvited(tx.GroupInviteeIDs(e.GroupID))
		}
	case events.GroupMemberRemoved:
		f.decided = true
		// The members, and the person removed (or whose invitation is
		// withdrawn).
		var members []string
		if members, err = tx.GroupMemberIDs(e.GroupID); err == nil {
			f.toGroupAbout(members, e.UserID)
		}
	case events.GroupInvitationDeclined:
		f.decided = true
		if err = f.toAll(tx.GroupMemberIDs(e.GroupID)); err == nil {
			f.toInvited(e.UserID)
		}
	case events.AgendaEntryAdded:
		err = f.entryBefore(e.UserID, e.AppointmentID, false)
	case events.AgendaEntryRescheduled:
		err = f.entryBefore(e.UserID, e.AppointmentID, true)
	case events.AgendaEntryRoleChanged:
		err = f.entryBefore(e.UserID, e.AppointmentID, true)
	case events.AgendaEntryRemoved:
		err = f.entryBefore(e.UserID, e.AppointmentID, true)
	}
	if err != nil {
		return nil, fmt.Errorf("feed of %s: %w", env.Type, err)
	}
	return f, nil
}

// after completes the event's feed from the state it produced and writes it.
func (f *feed) after(ev events.Event) error {
	var err error
	switch e := ev.(type) {
	case events.AppointmentCreated:
		f.to(e.OwnerID, f.env.Data)
		for _, p := range e.Participants {
			f.to(p.UserID, f.env.Data)
		}
	case events.AppointmentUpdated:
		if err = f.toAll(f.tx.ParticipantIDs(e.AppointmentID)); err == nil {
			err = f.appointmentChanged(e)
		}
	case events.AppointmentParticipantAdded:
		err = f.toAll(f.tx.ParticipantIDs(e.AppointmentID))
	case events.AppointmentAccepted:
		err = f.toAll(f.tx.ParticipantIDs(e.AppointmentID))
	case events.AppointmentDeclined:
		err = f.toAll(f.tx.ParticipantIDs(e.AppointmentID))
	case events.AppointmentConfirmed:
		err = f.toAll(f.tx.ParticipantIDs(e.AppointmentID))
	case events.AppointmentCancelled:
		err = f.toAll(f.tx.ParticipantIDs(e.AppointmentID))
	case events.AgendaEntryAdded:
		err = f.entry(e.UserID, readmodel.EntrySlot{Start: e.Start, End: e.End, Role: e.Role, Found: true})
	case events.AgendaEntryRescheduled:
		err = f.entry(e.UserID, readmodel.EntrySlot{Start: e.Start, End: e.End, Role: f.slot.Role, Found: f.slot.Found})
	case events.AgendaEntryRoleChanged:
		err = f.entry(e.UserID, readmodel.EntrySlot{Start: f.slot.Start, End: f.slot.End, Role: e.Role, Found: f.slot.Found})
	case events.AgendaEntryRemoved:
		err = f.entry(e.UserID, readmodel.EntrySlot{})
	case events.GroupCreated:
		err = f.toAll(f.tx.GroupMemberIDs(e.GroupID))
	case events.GroupUpdated:
		// The people invited see its name in their invitation, and nothing
		// else of it (a review found its description sent them): a new
		// name alone, at version 0 (the group's counts what they do not see).
		if err = f.toAll(f.tx.GroupMemberIDs(e.GroupID)); err == nil && e.Name != f.groupName {
			var invited []string
			if invited, err = f.tx.GroupInviteeIDs(e.GroupID); err == nil {
				err = f.toAllOnly(invited, map[string]string{"group_id": e.GroupID, "name": e.Name})
			}
		}
	case events.GroupMemberAdded:
		err = f.toAll(f.tx.GroupMemberIDs(e.GroupID))
	case events.GroupMemberInvited:
		// The members see who is invited; the invitee sees their invitation
		// and nothing else of the group.
		if err = f.toAll(f.tx.GroupMemberIDs(e.GroupID)); err == nil {
			f.toInvited(e.UserID)
		}
	case events.GroupInvitationAccepted:
		err = f.toAll(f.tx.GroupMemberIDs(e.GroupID))
	case events.GroupMemberRankChanged:
		var members []string
		if members, err = f.tx.GroupMemberIDs(e.GroupID); err == nil {
			f.toGroupAbout(members, e.UserID)
		}
	case events.GroupCreatorChanged:
		err = f.toAll(f.tx.GroupMemberIDs(e.GroupID))
	case events.UserProfileChanged:
		// The user in full; those shown the display name, only that (the
		// event holds the user's email).
		f.to(e.UserID, f.env.Data)
		var shown []string
		if shown, err = f.tx.NamedByIDs(e.UserID); err == nil {
			err = f.toAllOnly(shown, map[string]string{"user_id": e.UserID, "display_name": e.DisplayName})
		}
	case events.NotificationRead:
		f.to(e.UserID, f.env.Data)
	case events.NotificationsAllRead:
		f.to(e.UserID, f.env.Data)
	default:
		if !f.decided {
			err = errNoFeedRule
		}
	}
	if err != nil {
		return fmt.Errorf("feed of %s: %w", f.env.Type, err)
	}
	if err := f.tx.RevokeFeed(f.revoked, f.env.Position); err != nil {
		return err
	}
	return f.tx.WriteFeed(f.records)
}

// scanLimit is how many entries feed.to scans for a user before it
// keeps an index instead: most events reach one to a few people, and a map
// per event was a tenth of a rebuild's allocated bytes.
const scanLimit = 16

// to gives user an entry with data; the first entry decided for a user stays.
func (f *feed) to(user string, data json.RawMessage) { f.add(user, data, f.env.Stream, f.env.Version) }

// toViewer gives user, who is not owner, an entry with data about owner's
// agenda: on owner's agenda stream, at version 0. Its version would count
// the owner's agenda changes, those the viewer may not see included, and
// an appointment's stream would name an appointment a busy-only viewer
// may not know (a review found both).
func (f *feed) toViewer(user, owner string, data json.RawMessage) {
	f.add(user, data, events.ScheduleStream(owner), 0)
}

// add gives user an entry with data, stream and version; the first entry
// decided for a user stays.
func (f *feed) add(user string, data json.RawMessage, stream string, version int64) {
	if user == "" {
		return
	}
	if f.seen != nil {
		if _, ok := f.seen[user]; ok {
			return
		}
		f.seen[user] = struct{}{}
	} else {
		for i := range f.records {
			if f.records[i].UserID == user {
				return
			}
		}
		if len(f.records) == scanLimit {
			f.seen = make(map[string]struct{}, 2*scanLimit)
			for i := range f.records {
				f.seen[f.records[i].UserID] = struct{}{}
			}
			f.seen[user] = struct{}{}
		}
	}
	f.records = append(f.records, readmodel.FeedRecord{UserID: user, Position: f.env.Position,
		EventType: f.env.Type, Stream: stream, Version: version, At: f.env.Time, Data: data})
}

// toAllOnly gives every user listed only part of the event's data, on the
// event's stream at version 0 (the stream's version counts changes they do
// not see).
func (f *feed) toAllOnly(users []string, only map[string]string) error {
	if len(users) == 0 {
		return nil
	}
	data, err := json.Marshal(only)
	if err != nil {
		return err
	}
	for _, u := range users {
		f.add(u, data, f.env.Stream, 0)
	}
	return nil
}

// toGroupAbout gives the group's active members the event, and user, whom
// it is about (removed, or given a rank): if user is a member, every
// member's feed before it closes, as who sees what of whom changes with
// them; if only invited, user gets it at version 0, and nobody saw
// anything through them.
func (f *feed) toGroupAbout(members []string, user string) {
	f.toAll(members, nil)
	if slices.Contains(members, user) {
		f.revoked = members
		return
	}
	f.toInvited(user)
}

// toInvited gives user, only invited to the event's group, an entry with
// the event's data at version 0.
func (f *feed) toInvited(user string) { f.add(user, f.env.Data, f.env.Stream, 0) }

// toAllInvited gives every user listed, only invited to the event's group,
// an entry with the event's data at version 0.
func (f *feed) toAllInvited(users []string, err error) error {
	if err != nil {
		return err
	}
	for _, u := range users {
		f.toInvited(u)
	}
	return nil
}

// toAll gives every user listed the event's own data.
func (f *feed) toAll(users []string, err error) error {
	if err != nil {
		return err
	}
	for _, u := range users {
		f.to(u, f.env.Data)
	}
	return nil
}
