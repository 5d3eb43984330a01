package readmodel

// A group's agenda and its members' busy time: what the group views read,
// masked for the viewer by the same rules agenda.SeesDetails states.

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/sqlite"
)

// GroupAgenda returns the blocking entries (agenda.Blocks) of every active
// member of a group that overlap [from, to), masked for viewerID by
// agenda.SeesDetails: an entry shows its details only if the viewer is the
// member, takes part in the appointment themselves (it is in their own
// agenda), or manages the member (agenda.Group.CanManage: a higher rank in
// a hierarchical group), the appointment's privacy is full and it is the
// member's personal appointment or one of this group. The rule is evaluated
// in SQL, so a hidden entry's details are never read. ENOTFOUND if viewerID
// is not an active member; agenda.AgendaTooLarge if the members hold more
// than agenda.MaxAgendaEntries entries in the window together (refused
// before any detail is read).
func (db *DB) GroupAgenda(ctx context.Context, groupID, viewerID string, from, to time.Time) ([]agenda.MemberAgenda, error) {
	// One read transaction, so the ranks, the entries and the details all
	// come from the same snapshot: a rank or privacy change can never pair
	// with entries or titles from another moment. Visibility is decided
	// before any detail is read, so a masked entry's title never even leaves
	// the database.
	var out []agenda.MemberAgenda
	err := db.db.Snapshot(ctx, func(c *sqlite.Conn) error {
		var err error
		out, err = groupAgenda(c, groupID, viewerID, from, to)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read agenda of group %s: %w", groupID, err)
	}
	return out, nil
}

// groupAgenda is GroupAgenda inside its read transaction.
func groupAgenda(c *sqlite.Conn, groupID, viewerID string, from, to time.Time) ([]agenda.MemberAgenda, error) {
	// The appointments the viewer takes part in, as far as the window goes.
	mine := map[string]bool{}
	rows, err := c.Query(`SELECT appointment_id FROM agenda_entries
		WHERE user_id = ?1 AND start_ns > ?2 - `+lookBackOf("?1")+` AND start_ns < ?3 AND end_ns > ?2 LIMIT ?4`,
		viewerID, from.UnixNano(), to.UnixNano(), agenda.MaxAgendaEntries+1)
	if err != nil {
		return nil, err
	}
	var seen entryCount
	for rows.Next() {
		if err := seen.next(); err != nil {
			rows.Close()
			return nil, err
		}
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		mine[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Every member's blocking entries, and whether the viewer sees each.
	rows, err = c.Query(groupAgendaQuery, withBlockingRoles(groupID, viewerID, from.UnixNano(), to.UnixNano(),
		agenda.PrivacyFull, agenda.MemberActive)...)
	if err != nil {
		return nil, err
	}
	out := []agenda.MemberAgenda{}
	var details []string // appointment IDs of the visible entries
	var visible []*agenda.Entry
	var entries entryCount
	for rows.Next() {
		var userID, username, displayName string
		var apptID, role sql.NullString
		var start, end sql.NullInt64
		var show bool
		if err := rows.Scan(&userID, &username, &displayName, &apptID, &start, &end, &role, &show); err != nil {
			rows.Close()
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].UserID != userID {
			out = append(out, agenda.MemberAgenda{UserID: userID, Username: username, DisplayName: displayName, Entries: []agenda.GroupAgendaEntry{}})
		}
		if !apptID.Valid {
			continue // a member with nothing in the window
		}
		if err := entries.next(); err != nil {
			rows.Close()
			return nil, err
		}
		m := &out[len(out)-1]
		entry := agenda.GroupAgendaEntry{Start: time.Unix(0, start.Int64).UTC(), End: time.Unix(0, end.Int64).UTC(), Busy: true}
		if show || mine[apptID.String] {
			entry.Busy = false
			entry.Entry = &agenda.Entry{AppointmentID: apptID.String, MyStatus: role.String,
				Start: entry.Start, End: entry.End}
			details = append(details, apptID.String)
			visible = append(visible, entry.Entry)
		}
		m.Entries = append(m.Entries, entry)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		// No row: the viewer is not a member (or there is no such group).
		return nil, agenda.Errorf(agenda.ENOTFOUND, "group not found")
	}
	byID, err := appointmentDetails(c, details)
	if err != nil {
		return nil, err
	}
	for _, e := range visible {
		d := byID[e.AppointmentID]
		e.GroupID, e.Title, e.Description, e.Location = d.GroupID, d.Title, d.Description, d.Location
		e.Privacy, e.Status, e.Version, e.OriginNode = d.Privacy, d.Status, d.Version, d.OriginNode
	}
	return out, nil
}

// groupAgendaQuery reads every active member's blocking entries in
// [?3, ?4) for viewer ?2 of group ?1, with whether the viewer sees each
// one's details: agenda.SeesDetails in SQL, where the rank rule
// (agenda.Group.CanManage) reads "g.hierarchical AND v.rank > m.rank", ?5 is
// the privacy that shows details to a superior, ?6 the active membership
// status and ?7... the blocking roles. The privacy of an entry is looked up
// only where it decides (a member ranked below the viewer).
// TestGroupAgendaAgreesWithSeesDetails and TestGroupAgendaAgreesWithCanManage
// prove the SQL and the Go rules agree.
var groupAgendaQuery = `WITH viewer AS (SELECT rank FROM group_members WHERE group_id = ?1 AND user_id = ?2
			AND status = ?6)
		SELECT m.user_id, COALESCE(u.username, ''), COALESCE(u.display_name, ''), e.appointment_id, e.start_ns, e.end_ns, e.role,
		CASE WHEN e.appointment_id IS NULL THEN 0
			WHEN m.user_id = ?2 THEN 1
			WHEN g.hierarchical AND v.rank > m.rank THEN
				COALESCE((SELECT a.privacy = ?5 AND (a.group_id = '' OR a.group_id = g.id)
					FROM appointments a WHERE a.id = e.appointment_id), 0)
			ELSE 0 END
		FROM groups g
		JOIN viewer v
		JOIN group_members m ON m.group_id = g.id AND m.status = ?6
		LEFT JOIN users u ON u.id = m.user_id
		LEFT JOIN agenda_entries e ON e.user_id = m.user_id AND e.role IN (` + blockingRolesFrom(7) + `)
			AND e.start_ns > ?3 - ` + lookBackOf("m.user_id") + `
			AND e.start_ns < ?4 AND e.end_ns > ?3
		WHERE g.id = ?1
		ORDER BY m.rank DESC, u.username, m.user_id, e.start_ns, e.appointment_id`

// lookBackOf is lookBack for the user in column or parameter col.
func lookBackOf(col string) string {
	return `COALESCE((SELECT max_duration_ns FROM agenda_streams s WHERE s.user_id = ` + col + `), 0)`
}

// appointmentDetails reads the descriptive fields of appointments by ID.
func appointmentDetails(c *sqlite.Conn, ids []string) (map[string]agenda.Entry, error) {
	out := make(map[string]agenda.Entry, len(ids))
	size := 0 // of the texts read: each shows once at least in the answer
	const chunk = 512
	for lo := 0; lo < len(ids); lo += chunk {
		part := ids[lo:min(lo+chunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		in, args := sqlite.In(args)
		rows, err := c.Query(`SELECT id, group_id, title, description, location, privacy, status, version, origin_node
			FROM appointments WHERE id IN `+in, args...)
		if err != nil {
			return nil, fmt.Errorf("read appointments: %w", err)
		}
		for rows.Next() {
			var id, groupID string
			var e agenda.Entry
			if err := rows.Scan(&id, &groupID, &e.Title, &e.Description, &e.Location, &e.Privacy, &e.Status,
				&e.Version, &e.OriginNode); err != nil {
				rows.Close()
				return nil, err
			}
			e.GroupID = nullable(groupID)
			out[id] = e
			if size += len(e.Title) + len(e.Description) + len(e.Location); size > agenda.MaxAgendaBytes {
				rows.Close()
				return nil, agenda.AgendaTooLarge()
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// groupBusyQuery reads the blocking entries in [?3, ?4) of every active
// member of group ?1, each row with the rank of viewer ?2 (NULL if they
// are not an active member); ?5 is the active membership status and ?6...
// the blocking roles.
var groupBusyQuery = `SELECT
		(SELECT rank FROM group_members WHERE group_id = ?1 AND user_id = ?2 AND status = ?5),
		COALESCE(e.start_ns, 0), COALESCE(e.end_ns, 0)
		FROM group_members m
		LEFT JOIN agenda_entries e ON e.user_id = m.user_id AND e.role IN (` + blockingRolesFrom(6) + `)
			AND e.start_ns > ?3 - ` + lookBackOf("m.user_id") + `
			AND e.start_ns < ?4 AND e.end_ns > ?3
		WHERE m.group_id = ?1 AND m.status = ?5`

// GroupBusy returns the busy intervals of every active member of a group
// that overlap [from, to), unordered. ENOTFOUND if viewerID is not an
// active member; agenda.AgendaTooLarge past agenda.MaxAgendaEntries.
func (db *DB) GroupBusy(ctx context.Context, groupID, viewerID string, from, to time.Time) ([]agenda.Interval, error) {
	var out []agenda.Interval
	member := false
	err := db.db.View(ctx, func(c *sqlite.Conn) error {
		rows, err := c.Query(groupBusyQuery, withBlockingRoles(groupID, viewerID, from.UnixNano(), to.UnixNano(),
			agenda.MemberActive)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []agenda.Interval{}
		var n entryCount
		for rows.Next() {
			var viewerRank sql.NullInt64
			var start, end int64
			if err := rows.Scan(&viewerRank, &start, &end); err != nil {
				return err
			}
			if !viewerRank.Valid {
				break
			}
			member = true
			if start != 0 || end != 0 {
				if err := n.next(); err != nil {
					return err
				}
				out = append(out, agenda.Interval{Start: time.Unix(0, start).UTC(), End: time.Unix(0, end).UTC()})
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read busy time of group %s: %w", groupID, err)
	}
	if !member {
		return nil, agenda.Errorf(agenda.ENOTFOUND, "group not found")
	}
	return out, nil
}
