package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agendahq/agenda"
)

// Invitations to groups are rows of group_members with status 'invited':
// members list them, but every query that is about the group's members
// (its agenda, free slots, who an appointment is imposed on) reads only
// the active ones.

// GroupInvitations returns userID's first ListCap pending invitations to
// groups, oldest first.
func (db *DB) GroupInvitations(ctx context.Context, userID string) ([]agenda.GroupInvitation, error) {
	rows, err := db.query(ctx, selectInvitation+`
		WHERE m.user_id = ? AND m.status = ? ORDER BY m.joined_at, g.id LIMIT ?`, userID, agenda.MemberInvited, ListCap)
	if err != nil {
		return nil, fmt.Errorf("read group invitations of %s: %w", userID, err)
	}
	defer rows.Close()
	out := []agenda.GroupInvitation{}
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// selectInvitation reads what scanInvitation scans, from group_members m
// joined to groups g and to the inviter i, named as they are called now.
const selectInvitation = `SELECT g.id, g.name, g.hierarchical, m.rank, m.invited_by, m.joined_at, g.version, m.version,
	i.id, i.username, i.display_name
	FROM group_members m JOIN groups g ON g.id = m.group_id
	LEFT JOIN users i ON i.id = m.invited_by`

func scanInvitation(r interface{ Scan(...any) error }) (agenda.GroupInvitation, error) {
	var inv agenda.GroupInvitation
	var at int64
	var inviter nullableUser
	err := r.Scan(&inv.GroupID, &inv.Name, &inv.Hierarchical, &inv.Rank, &inv.InvitedBy, &at, &inv.GroupVersion, &inv.MemberVersion,
		&inviter.id, &inviter.username, &inviter.displayName)
	inv.InvitedAt = time.Unix(0, at).UTC()
	inv.Inviter = inviter.summary()
	return inv, err
}

// GroupInvitation returns userID's pending invitation to a group.
// ENOTFOUND if there is none (no such group, never invited, or a member
// already).
func (db *DB) GroupInvitation(ctx context.Context, groupID, userID string) (agenda.GroupInvitation, error) {
	inv, err := scanInvitation(db.queryRow(ctx, selectInvitation+`
		WHERE m.group_id = ? AND m.user_id = ? AND m.status = ?`, groupID, userID, agenda.MemberInvited))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, agenda.Errorf(agenda.ENOTFOUND, "no invitation to this group")
	} else if err != nil {
		return inv, fmt.Errorf("read invitation of %s to %s: %w", userID, groupID, err)
	}
	return inv, nil
}

// groupParticipationsQuery selects the appointments of group ?2 ending
// after ?3, of a status from ?4 on (agenda.LiveStatuses: every status but
// cancelled), in which user ?1 takes part. It walks the group's
// appointments still to come in appointments_by_group (group, status, end)
// and looks the user up in each (CROSS JOIN keeps that order): a user's own
// participations may be a lifetime of personal appointments, and a group's
// past ones a long history; its appointments still to come are few. The
// statuses are listed rather than "<> cancelled" so that the end bounds the
// index's range.
var groupParticipationsQuery = `SELECT a.id FROM appointments a
	CROSS JOIN participants p ON p.appointment_id = a.id AND p.user_id = ?1
	WHERE a.group_id = ?2 AND a.group_id <> '' AND a.status IN (` + liveStatusesFrom(4) + `) AND a.end_ns > ?3
	ORDER BY a.start_ns, a.id`

// GroupParticipations returns the appointments of a group, not cancelled
// and ending after after, in which userID takes part in any way (organiser,
// imposed, invited, accepted or declined), each with its participants: what
// leaving the group ends.
func (db *DB) GroupParticipations(ctx context.Context, groupID, userID string, after time.Time) ([]agenda.Appointment, error) {
	list, err := db.appointmentsOf(ctx, userID, groupParticipationsQuery,
		append([]any{userID, groupID, after.UnixNano()}, liveStatusArgs...)...)
	if err != nil {
		return nil, fmt.Errorf("read participations of %s in %s: %w", userID, groupID, err)
	}
	return list, nil
}

// InviteMember records an invitation to join a group.
func (t *Tx) InviteMember(groupID, userID string, rank int, invitedBy string, at time.Time, origin string) error {
	t.joinsGroup(userID)
	_, err := t.exec(`INSERT INTO group_members (group_id, user_id, rank, status, invited_by, ranked_by, joined_at, version, origin_node)
		VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, `+firstMemberVersion+`, ?7)`,
		groupID, userID, rank, agenda.MemberInvited, invitedBy, at.UnixNano(), origin)
	if err != nil {
		return fmt.Errorf("invite %s to %s: %w", userID, groupID, err)
	}
	return nil
}

// RankInvitation records that an invitation's rank now rests on byUserID's
// authority (they re-ranked it); a member's row is left alone.
func (t *Tx) RankInvitation(groupID, userID, byUserID string) error {
	if _, err := t.exec(`UPDATE group_members SET ranked_by = ? WHERE group_id = ? AND user_id = ? AND status = ?`,
		byUserID, groupID, userID, agenda.MemberInvited); err != nil {
		return fmt.Errorf("rank invitation of %s to %s: %w", userID, groupID, err)
	}
	return nil
}

// ActivateMember makes an invited person a member, joined at.
func (t *Tx) ActivateMember(groupID, userID string, at time.Time, origin string) error {
	return t.execOne("activate member "+userID+" of "+groupID, `UPDATE group_members SET status = ?, joined_at = ?,
		version = version + 1, origin_node = ? WHERE group_id = ? AND user_id = ? AND status = ?`,
		agenda.MemberActive, at.UnixNano(), origin, groupID, userID, agenda.MemberInvited)
}
