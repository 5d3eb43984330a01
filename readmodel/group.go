package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agendahq/agenda"
)

const selectGroup = `SELECT g.id, g.name, g.description, g.hierarchical, g.creator_id, g.created_at, g.updated_at,
	g.version, g.origin_node`

func scanGroup(r interface{ Scan(...any) error }, g *agenda.Group, extra ...any) error {
	var created, updated int64
	dst := append([]any{&g.ID, &g.Name, &g.Description, &g.Hierarchical, &g.CreatorID, &created, &updated,
		&g.Version, &g.OriginNode}, extra...)
	if err := r.Scan(dst...); err != nil {
		return err
	}
	g.CreatedAt, g.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return nil
}

// Group returns a group with its members, most senior first, as viewerID
// sees it. ENOTFOUND if there is no such group or viewerID is not in it:
// a non-member cannot tell which.
func (db *DB) Group(ctx context.Context, id, viewerID string) (agenda.Group, error) {
	// One statement, so the group and its members come from one snapshot.
	rows, err := db.query(ctx, selectGroup+`, m.user_id, COALESCE(u.username, ''), m.rank, m.joined_at,
		m.version, m.origin_node
		FROM groups g JOIN group_members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id
		WHERE g.id = ? ORDER BY m.rank DESC, u.username, m.user_id`, id)
	if err != nil {
		return agenda.Group{}, fmt.Errorf("read group %s: %w", id, err)
	}
	defer rows.Close()
	var g agenda.Group
	isMember := false
	g.Members = []agenda.Member{}
	for rows.Next() {
		var m agenda.Member
		var joined int64
		if err := scanGroup(rows, &g, &m.UserID, &m.Username, &m.Rank, &joined, &m.Version, &m.OriginNode); err != nil {
			return agenda.Group{}, fmt.Errorf("read group %s: %w", id, err)
		}
		m.JoinedAt = time.Unix(0, joined).UTC()
		g.Members = append(g.Members, m)
		if m.UserID == viewerID {
			isMember, g.MyRank = true, m.Rank
		}
	}
	if err := rows.Err(); err != nil {
		return agenda.Group{}, fmt.Errorf("read group %s: %w", id, err)
	}
	if !isMember {
		return agenda.Group{}, agenda.Errorf(agenda.ENOTFOUND, "group not found")
	}
	g.MemberCount = len(g.Members)
	return g, nil
}

// GroupsOf returns the groups userID is a member of, by name.
func (db *DB) GroupsOf(ctx context.Context, userID string) ([]agenda.Group, error) {
	rows, err := db.query(ctx, selectGroup+`, m.rank,
		(SELECT COUNT(*) FROM group_members c WHERE c.group_id = g.id)
		FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = ? ORDER BY g.name, g.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("read groups of %s: %w", userID, err)
	}
	defer rows.Close()
	out := []agenda.Group{}
	for rows.Next() {
		var g agenda.Group
		if err := scanGroup(rows, &g, &g.MyRank, &g.MemberCount); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// PendingGroupAppointments counts the appointments of a group still waiting
// for answers (status pending).
func (db *DB) PendingGroupAppointments(ctx context.Context, groupID string) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM appointments WHERE group_id = ? AND status = ?`,
		groupID, agenda.StatusPending).Scan(&n)
	return n, err
}

// GroupAgenda returns the blocking entries of every member of a group that
// overlap [from, to), masked for viewerID: an entry shows its details only
// if the viewer is the member, takes part in the appointment, or (in a
// hierarchical group) outranks the member and the appointment's privacy is
// full. ENOTFOUND if viewerID is not a member.
func (db *DB) GroupAgenda(ctx context.Context, groupID, viewerID string, from, to time.Time) ([]agenda.MemberAgenda, error) {
	// One statement: the viewer's rank, the group's kind, the members and
	// their entries all come from the same snapshot, so a rank change can
	// never pair an old rank with new entries.
	rows, err := db.query(ctx, `SELECT
		(SELECT rank FROM group_members WHERE group_id = ?1 AND user_id = ?2),
		g.hierarchical, m.user_id, COALESCE(u.username, ''), m.rank,
		COALESCE(e.appointment_id, ''), COALESCE(e.start_ns, 0), COALESCE(e.end_ns, 0), COALESCE(e.role, ''),
		COALESCE(a.group_id, ''), COALESCE(a.title, ''), COALESCE(a.description, ''), COALESCE(a.location, ''),
		COALESCE(a.privacy, ''), COALESCE(a.status, ''), COALESCE(a.version, 0), COALESCE(a.origin_node, ''),
		vp.user_id IS NOT NULL
		FROM groups g
		JOIN group_members m ON m.group_id = g.id
		LEFT JOIN users u ON u.id = m.user_id
		LEFT JOIN agenda_entries e ON e.user_id = m.user_id AND e.role IN (?5, ?6, ?7)
			AND e.start_ns > ?3 - COALESCE((SELECT max_duration_ns FROM agenda_streams s WHERE s.user_id = m.user_id), 0)
			AND e.start_ns < ?4 AND e.end_ns > ?3
		LEFT JOIN appointments a ON a.id = e.appointment_id
		LEFT JOIN participants vp ON vp.appointment_id = e.appointment_id AND vp.user_id = ?2
		WHERE g.id = ?1
		ORDER BY m.rank DESC, u.username, m.user_id, e.start_ns, e.appointment_id`,
		groupID, viewerID, from.UnixNano(), to.UnixNano(), agenda.RoleOwner, agenda.RoleAuto, agenda.RoleAccepted)
	if err != nil {
		return nil, fmt.Errorf("read agenda of group %s: %w", groupID, err)
	}
	defer rows.Close()
	out := []agenda.MemberAgenda{}
	for rows.Next() {
		var viewerRank sql.NullInt64
		var hierarchical, takesPart bool
		var userID, username string
		var rank int
		var e agenda.AgendaEntry
		var groupID string
		var start, end int64
		if err := rows.Scan(&viewerRank, &hierarchical, &userID, &username, &rank,
			&e.AppointmentID, &start, &end, &e.MyStatus, &groupID, &e.Title, &e.Description, &e.Location,
			&e.Privacy, &e.Status, &e.Version, &e.OriginNode, &takesPart); err != nil {
			return nil, err
		}
		if !viewerRank.Valid {
			return nil, agenda.Errorf(agenda.ENOTFOUND, "group not found")
		}
		if len(out) == 0 || out[len(out)-1].UserID != userID {
			out = append(out, agenda.MemberAgenda{UserID: userID, Username: username, Entries: []agenda.GroupAgendaEntry{}})
		}
		if e.AppointmentID == "" {
			continue // a member with nothing in the window
		}
		entry := agenda.GroupAgendaEntry{Start: time.Unix(0, start).UTC(), End: time.Unix(0, end).UTC(), Busy: true}
		seesDetails := userID == viewerID || takesPart ||
			(hierarchical && int(viewerRank.Int64) > rank && e.Privacy == agenda.PrivacyFull)
		if seesDetails {
			e.GroupID = nullable(groupID)
			e.Start, e.End = entry.Start, entry.End
			e.Pending = false
			entry.Busy, entry.AgendaEntry = false, &e
		}
		m := &out[len(out)-1]
		m.Entries = append(m.Entries, entry)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, agenda.Errorf(agenda.ENOTFOUND, "group not found")
	}
	return out, nil
}

// GroupBusy returns the busy intervals of every member of a group that
// overlap [from, to), unordered. ENOTFOUND if viewerID is not a member.
func (db *DB) GroupBusy(ctx context.Context, groupID, viewerID string, from, to time.Time) ([]agenda.Interval, error) {
	rows, err := db.query(ctx, `SELECT
		(SELECT rank FROM group_members WHERE group_id = ?1 AND user_id = ?2),
		COALESCE(e.start_ns, 0), COALESCE(e.end_ns, 0)
		FROM group_members m
		LEFT JOIN agenda_entries e ON e.user_id = m.user_id AND e.role IN (?5, ?6, ?7)
			AND e.start_ns > ?3 - COALESCE((SELECT max_duration_ns FROM agenda_streams s WHERE s.user_id = m.user_id), 0)
			AND e.start_ns < ?4 AND e.end_ns > ?3
		WHERE m.group_id = ?1`,
		groupID, viewerID, from.UnixNano(), to.UnixNano(), agenda.RoleOwner, agenda.RoleAuto, agenda.RoleAccepted)
	if err != nil {
		return nil, fmt.Errorf("read busy time of group %s: %w", groupID, err)
	}
	defer rows.Close()
	out := []agenda.Interval{}
	member := false
	for rows.Next() {
		var viewerRank sql.NullInt64
		var start, end int64
		if err := rows.Scan(&viewerRank, &start, &end); err != nil {
			return nil, err
		}
		if !viewerRank.Valid {
			break
		}
		member = true
		if start != 0 || end != 0 {
			out = append(out, agenda.Interval{Start: time.Unix(0, start).UTC(), End: time.Unix(0, end).UTC()})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !member {
		return nil, agenda.Errorf(agenda.ENOTFOUND, "group not found")
	}
	return out, nil
}

// GroupRecord is the stored state of a group, as a projector writes it.
type GroupRecord struct {
	ID, Name, Description, CreatorID string
	Hierarchical                     bool
	At                               time.Time
	Version                          int64
	OriginNode                       string
}

// InsertGroup stores a new group.
func (t *Tx) InsertGroup(g GroupRecord) error {
	_, err := t.exec(`INSERT INTO groups (id, name, description, hierarchical, creator_id, created_at, updated_at,
		version, origin_node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.Description, g.Hierarchical, g.CreatorID, g.At.UnixNano(), g.At.UnixNano(), g.Version, g.OriginNode)
	if err != nil {
		return fmt.Errorf("insert group %s: %w", g.ID, err)
	}
	return nil
}

// UpdateGroup changes a group's name and description.
func (t *Tx) UpdateGroup(g GroupRecord) error {
	return t.execOne("update group "+g.ID, `UPDATE groups SET name = ?, description = ?, updated_at = ?, version = ?,
		origin_node = ? WHERE id = ?`, g.Name, g.Description, g.At.UnixNano(), g.Version, g.OriginNode, g.ID)
}

// TouchGroup records that an event moved the group's stream.
func (t *Tx) TouchGroup(id string, at time.Time, version int64, origin string) error {
	return t.execOne("touch group "+id, `UPDATE groups SET updated_at = ?, version = ?, origin_node = ? WHERE id = ?`,
		at.UnixNano(), version, origin, id)
}

// DeleteGroup removes a group and its memberships.
func (t *Tx) DeleteGroup(id string) error {
	if _, err := t.exec(`DELETE FROM group_members WHERE group_id = ?`, id); err != nil {
		return fmt.Errorf("delete members of %s: %w", id, err)
	}
	return t.execOne("delete group "+id, `DELETE FROM groups WHERE id = ?`, id)
}

// SetMember adds a member or changes their rank.
func (t *Tx) SetMember(groupID, userID string, rank int, at time.Time, version int64, origin string) error {
	_, err := t.exec(`INSERT INTO group_members (group_id, user_id, rank, joined_at, version, origin_node)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, user_id) DO UPDATE SET rank = excluded.rank,
		version = excluded.version, origin_node = excluded.origin_node`,
		groupID, userID, rank, at.UnixNano(), version, origin)
	if err != nil {
		return fmt.Errorf("set member %s of %s: %w", userID, groupID, err)
	}
	return nil
}

// RemoveMember takes a user out of a group.
func (t *Tx) RemoveMember(groupID, userID string) error {
	return t.execOne("remove member "+userID+" of "+groupID,
		`DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, groupID, userID)
}

// GroupInfo is what the projection needs of a group to word notifications.
type GroupInfo struct {
	ID, Name, CreatorID string
	// Members maps each member to their rank.
	Members map[string]int
}

// GroupInfo reads a group inside the projection's transaction.
func (t *Tx) GroupInfo(id string) (GroupInfo, error) {
	g := GroupInfo{Members: map[string]int{}}
	err := t.tx.QueryRowContext(t.ctx, `SELECT id, name, creator_id FROM groups WHERE id = ?`, id).
		Scan(&g.ID, &g.Name, &g.CreatorID)
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("group %s not in the read model", id)
	} else if err != nil {
		return g, err
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT user_id, rank FROM group_members WHERE group_id = ?`, id)
	if err != nil {
		return g, err
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		var r int
		if err := rows.Scan(&u, &r); err != nil {
			return g, err
		}
		g.Members[u] = r
	}
	return g, rows.Err()
}
