package readmodel

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agendahq/agenda"
)

// What the feed looks up inside the projection's transaction to decide who
// an event reaches and what they are shown of it.

// EntrySlot is an agenda entry as the feed needs it.
type EntrySlot struct {
	Start, End time.Time
	Role       string
	Found      bool
}

// AgendaEntrySlot reads one entry of a user's agenda inside the projection's
// transaction (Found is false if there is none).
func (t *Tx) AgendaEntrySlot(userID, appointmentID string) (EntrySlot, error) {
	var s EntrySlot
	var start, end int64
	err := t.queryRow(`SELECT start_ns, end_ns, role FROM agenda_entries
		WHERE user_id = ? AND appointment_id = ?`, userID, appointmentID).Scan(&start, &end, &s.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read entry %s of %s: %w", appointmentID, userID, err)
	}
	s.Start, s.End, s.Found = time.Unix(0, start).UTC(), time.Unix(0, end).UTC(), true
	return s, nil
}

// AppointmentDetail is what a viewer allowed the details of an entry sees,
// and whose appointment it is.
type AppointmentDetail struct {
	Title, Description, Location, Privacy, GroupID, OwnerID string
}

// AppointmentDetail reads the descriptive fields of an appointment inside
// the projection's transaction; all empty if it is gone.
func (t *Tx) AppointmentDetail(id string) (AppointmentDetail, error) {
	var d AppointmentDetail
	err := t.queryRow(`SELECT title, description, location, privacy, group_id, owner_id FROM appointments
		WHERE id = ?`, id).Scan(&d.Title, &d.Description, &d.Location, &d.Privacy, &d.GroupID, &d.OwnerID)
	if errors.Is(err, sql.ErrNoRows) {
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("read appointment %s: %w", id, err)
	}
	return d, nil
}

// GroupInviteeIDs lists the people invited to a group, not yet members.
func (t *Tx) GroupInviteeIDs(groupID string) ([]string, error) {
	return t.strings(`SELECT user_id FROM group_members WHERE group_id = ? AND status = ? ORDER BY user_id`,
		groupID, agenda.MemberInvited)
}

// GroupMemberIDs lists the active members of a group inside the
// projection's transaction (someone invited sees nothing of it).
func (t *Tx) GroupMemberIDs(groupID string) ([]string, error) {
	return t.strings(`SELECT user_id FROM group_members WHERE group_id = ? AND status = ? ORDER BY user_id`,
		groupID, agenda.MemberActive)
}

// NamedByIDs lists who, besides userID, is shown userID's display name in
// a group: the active members of the groups userID is a member of or
// invited to (members lists show both), and the people userID invited who
// have not answered (their invitation names its inviter).
func (t *Tx) NamedByIDs(userID string) ([]string, error) {
	return t.strings(`SELECT m.user_id FROM group_members mine
		JOIN group_members m ON m.group_id = mine.group_id AND m.status = ?2 AND m.user_id <> ?1
		WHERE mine.user_id = ?1
		UNION
		SELECT user_id FROM group_members WHERE invited_by = ?1 AND status = ?3
		ORDER BY 1`, userID, agenda.MemberActive, agenda.MemberInvited)
}

// ParticipantIDs lists everyone who takes part in an appointment, in any
// status — those who may read it.
func (t *Tx) ParticipantIDs(appointmentID string) ([]string, error) {
	return t.strings(`SELECT user_id FROM participants WHERE appointment_id = ? ORDER BY user_id`, appointmentID)
}

func (t *Tx) strings(q string, args ...any) ([]string, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
