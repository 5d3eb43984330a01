package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/agendahq/agenda"
)

// AppointmentRecord is the stored state of an appointment, as a projector
// writes it.
type AppointmentRecord struct {
	ID, OwnerID, GroupID         string
	Title, Description, Location string
	Start, End                   time.Time
	Privacy, Status              string
	CreatedAt, UpdatedAt         time.Time
	Version                      int64
	OriginNode                   string
}

// Appointment returns an appointment as viewer sees it, with its
// participants and the viewer's own status. ENOTFOUND if it does not exist or
// the viewer neither owns nor takes part in it: the caller cannot tell which.
func (db *DB) Appointment(ctx context.Context, id, viewerID string) (agenda.Appointment, error) {
	// One statement (appointment columns repeated on each participant row)
	// reads the appointment and its participants from the same snapshot.
	rows, err := db.query(ctx, `SELECT a.id, a.owner_id, a.group_id, a.title, a.description,
		a.location, a.start_ns, a.end_ns, a.privacy, a.status, a.created_at, a.updated_at, a.version, a.origin_node,
		COALESCE(e.user_id, ''), COALESCE(u.username, ''), COALESCE(e.role, '')
		FROM appointments a
		LEFT JOIN agenda_entries e ON e.appointment_id = a.id
		LEFT JOIN users u ON u.id = e.user_id
		WHERE a.id = ? ORDER BY u.username, e.user_id`, id)
	if err != nil {
		return agenda.Appointment{}, fmt.Errorf("read appointment %s: %w", id, err)
	}
	defer rows.Close()
	var a agenda.Appointment
	found := false
	a.Participants = []agenda.Participant{}
	for rows.Next() {
		var groupID string
		var start, end, created, updated int64
		var p agenda.Participant
		if err := rows.Scan(&a.ID, &a.OwnerID, &groupID, &a.Title, &a.Description, &a.Location, &start, &end,
			&a.Privacy, &a.Status, &created, &updated, &a.Version, &a.OriginNode,
			&p.UserID, &p.Username, &p.Status); err != nil {
			return agenda.Appointment{}, fmt.Errorf("read appointment %s: %w", id, err)
		}
		found = true
		a.GroupID = nullable(groupID)
		a.Start, a.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
		a.CreatedAt, a.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
		if p.UserID == "" {
			continue
		}
		a.Participants = append(a.Participants, p)
		if p.UserID == viewerID {
			a.MyStatus = p.Status
		}
	}
	if err := rows.Err(); err != nil {
		return agenda.Appointment{}, fmt.Errorf("read appointment %s: %w", id, err)
	}
	if !found || (a.MyStatus == "" && a.OwnerID != viewerID) {
		return agenda.Appointment{}, agenda.Errorf(agenda.ENOTFOUND, "appointment not found")
	}
	if a.MyStatus == "" {
		a.MyStatus = agenda.RoleOwner
	}
	return a, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// InsertAppointment stores a new appointment.
func (t *Tx) InsertAppointment(a AppointmentRecord) error {
	_, err := t.exec(`INSERT INTO appointments (id, owner_id, group_id, title, description, location, start_ns,
		end_ns, privacy, status, created_at, updated_at, version, origin_node)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.OwnerID, a.GroupID, a.Title, a.Description, a.Location, a.Start.UnixNano(), a.End.UnixNano(),
		a.Privacy, a.Status, a.CreatedAt.UnixNano(), a.UpdatedAt.UnixNano(), a.Version, a.OriginNode)
	if err != nil {
		return fmt.Errorf("insert appointment %s: %w", a.ID, err)
	}
	return nil
}

// UpdateAppointment replaces the editable fields of an appointment.
func (t *Tx) UpdateAppointment(a AppointmentRecord) error {
	return t.execOne("update appointment "+a.ID, `UPDATE appointments SET title = ?, description = ?, location = ?,
		start_ns = ?, end_ns = ?, privacy = ?, updated_at = ?, version = ?, origin_node = ? WHERE id = ?`,
		a.Title, a.Description, a.Location, a.Start.UnixNano(), a.End.UnixNano(), a.Privacy,
		a.UpdatedAt.UnixNano(), a.Version, a.OriginNode, a.ID)
}

// DeleteAppointment removes an appointment.
func (t *Tx) DeleteAppointment(id string) error {
	return t.execOne("delete appointment "+id, `DELETE FROM appointments WHERE id = ?`, id)
}
