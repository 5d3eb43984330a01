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

const selectAppointment = `SELECT a.id, a.owner_id, a.group_id, a.title, a.description,
	a.location, a.start_ns, a.end_ns, a.privacy, a.status, a.needs_all, a.created_at, a.updated_at, a.version,
	a.origin_node`

// Appointment returns an appointment as viewer sees it, with its
// participants and the viewer's own status. ENOTFOUND if it does not exist or
// the viewer takes no part in it: the caller cannot tell which.
func (db *DB) Appointment(ctx context.Context, id, viewerID string) (agenda.Appointment, error) {
	// One statement (appointment columns repeated on each participant row)
	// reads the appointment and its participants from the same snapshot.
	rows, err := db.query(ctx, selectAppointment+`,
		COALESCE(p.user_id, ''), COALESCE(u.username, ''), COALESCE(u.display_name, ''), COALESCE(p.status, '')
		FROM appointments a
		LEFT JOIN participants p ON p.appointment_id = a.id
		LEFT JOIN users u ON u.id = p.user_id
		WHERE a.id = ? ORDER BY u.username, p.user_id`, id)
	if err != nil {
		return agenda.Appointment{}, fmt.Errorf("read appointment %s: %w", id, err)
	}
	defer rows.Close()
	var a agenda.Appointment
	found := false
	a.Participants = []agenda.Participant{}
	for rows.Next() {
		var p agenda.Participant
		if err := scanAppointment(rows, &a, &p.UserID, &p.Username, &p.DisplayName, &p.Status); err != nil {
			return agenda.Appointment{}, fmt.Errorf("read appointment %s: %w", id, err)
		}
		found = true
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
	if !found || a.MyStatus == "" {
		return agenda.Appointment{}, agenda.Errorf(agenda.ENOTFOUND, "appointment not found")
	}
	return a, nil
}

// scanAppointment scans the columns of selectAppointment into a, then extra.
func scanAppointment(r interface{ Scan(...any) error }, a *agenda.Appointment, extra ...any) error {
	var groupID string
	var start, end, created, updated int64
	dst := append([]any{&a.ID, &a.OwnerID, &groupID, &a.Title, &a.Description, &a.Location, &start, &end,
		&a.Privacy, &a.Status, &a.NeedsAll, &created, &updated, &a.Version, &a.OriginNode}, extra...)
	if err := r.Scan(dst...); err != nil {
		return err
	}
	a.GroupID = nullable(groupID)
	a.Start, a.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
	a.CreatedAt, a.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return nil
}

// invitationsQuery selects the appointments user ?1 is invited to and has
// not answered, not of status ?2: those that have not ended at ?4 first.
// The conditions are written out, not bound: participants_by_user holds
// only pending participants of appointments not cancelled, and SQLite uses
// a partial index only for a query that names its condition. The
// appointment's own status is still what decides; the participant's copy
// only keeps the index small.
const invitationsQuery = `SELECT a.id
	FROM participants p JOIN appointments a ON a.id = p.appointment_id
	WHERE p.user_id = ?1 AND p.status = '` + agenda.RolePending + `' AND p.cancelled = 0 AND a.status <> ?2
	ORDER BY a.end_ns <= ?4, a.start_ns, a.id LIMIT ?3`

// Invitations returns the first ListCap appointments userID is invited to
// and has not answered, cancelled ones left out: those that have not ended
// at now, by start time, then those that have, by start time. Open ones
// come first because only they can still be taken part in, and invitations
// to ended appointments are bounded by nothing: an attacker's review filled
// a member's list with 1,000 of 2020, oldest first, and a real invitation
// no longer appeared in it.
func (db *DB) Invitations(ctx context.Context, userID string, now time.Time) ([]agenda.Appointment, error) {
	list, err := db.appointmentsOf(ctx, userID, invitationsQuery, userID, agenda.StatusCancelled, ListCap, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("read invitations of %s: %w", userID, err)
	}
	out := list[:0]
	for _, a := range list {
		if a.MyStatus == agenda.RolePending && a.Status != agenda.StatusCancelled {
			out = append(out, a) // still an invitation at the second read
		}
	}
	return out, nil
}

// appointmentsOf runs query, which selects appointment IDs, and reads each
// appointment as viewerID sees it, in the query's order. Each is read in a
// statement of its own, so one that changed in between and is no longer
// visible is left out.
func (db *DB) appointmentsOf(ctx context.Context, viewerID, query string, args ...any) ([]agenda.Appointment, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]agenda.Appointment, 0, len(ids))
	for _, id := range ids {
		a, err := db.Appointment(ctx, id, viewerID)
		if agenda.ErrorCode(err) == agenda.ENOTFOUND {
			continue // changed since the first statement
		} else if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	// Not &s: that moves s to the heap on every call, empty or not.
	p := new(string)
	*p = s
	return p
}

// InsertAppointment stores a new appointment.
func (t *Tx) InsertAppointment(a AppointmentRecord) error {
	_, err := t.exec(`INSERT INTO appointments (id, owner_id, group_id, title, description, location, start_ns,
		end_ns, privacy, status, needs_all, created_at, updated_at, version, origin_node)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.OwnerID, a.GroupID, a.Title, a.Description, a.Location, a.Start.UnixNano(), a.End.UnixNano(),
		a.Privacy, a.Status, a.Status == agenda.StatusPending, a.CreatedAt.UnixNano(), a.UpdatedAt.UnixNano(), a.Version, a.OriginNode)
	if err != nil {
		return fmt.Errorf("insert appointment %s: %w", a.ID, err)
	}
	t.appointmentInserted(a)
	return nil
}

// UpdateAppointment replaces the editable fields of an appointment.
func (t *Tx) UpdateAppointment(a AppointmentRecord) error {
	t.appointmentChanged(a.ID, func(s *appointmentState) {
		c := &s.shown
		c.title, c.description, c.location, c.privacy = a.Title, a.Description, a.Location, a.Privacy
		c.version, c.origin = a.Version, a.OriginNode
		s.start, s.end = a.Start.UnixNano(), a.End.UnixNano()
	})
	return t.execOne("update appointment "+a.ID, `UPDATE appointments SET title = ?, description = ?, location = ?,
		start_ns = ?, end_ns = ?, privacy = ?, updated_at = ?, version = ?, origin_node = ? WHERE id = ?`,
		a.Title, a.Description, a.Location, a.Start.UnixNano(), a.End.UnixNano(), a.Privacy,
		a.UpdatedAt.UnixNano(), a.Version, a.OriginNode, a.ID)
}

// DeleteAppointment removes an appointment and its participants.
func (t *Tx) DeleteAppointment(id string) error {
	// The appointment's entries are removed by their own events, which may
	// come in a later transaction: until then they hold no copy, as if
	// added before the row, and the agenda leaves them out (as its join on
	// appointments did).
	t.appointment(id).known = false
	if err := t.copyToEntries(id, entryCopy{}); err != nil {
		return fmt.Errorf("clear the agenda entries of %s: %w", id, err)
	}
	if _, err := t.exec(`DELETE FROM participants WHERE appointment_id = ?`, id); err != nil {
		return fmt.Errorf("delete participants of %s: %w", id, err)
	}
	return t.execOne("delete appointment "+id, `DELETE FROM appointments WHERE id = ?`, id)
}

// SetAppointmentStatus changes an appointment's status (confirmed,
// cancelled) and records the version of the event that did.
func (t *Tx) SetAppointmentStatus(id, status string, at time.Time, version int64, origin string) error {
	t.appointmentChanged(id, func(s *appointmentState) {
		s.shown.status, s.shown.version, s.shown.origin = status, version, origin
	})
	if err := t.execOne("set status of appointment "+id, `UPDATE appointments SET status = ?, updated_at = ?,
		version = ?, origin_node = ? WHERE id = ?`, status, at.UnixNano(), version, origin, id); err != nil {
		return err
	}
	// The participants' copy of whether it is cancelled (written only when
	// it changes: a confirmation leaves the rows alone).
	cancelled := status == agenda.StatusCancelled
	if _, err := t.exec(`UPDATE participants SET cancelled = ?2 WHERE appointment_id = ?1 AND cancelled <> ?2`,
		id, cancelled); err != nil {
		return fmt.Errorf("mark participants of %s: %w", id, err)
	}
	return nil
}

// TouchAppointment records that an event changed the appointment's stream
// (a participant joined or answered): its version moves.
func (t *Tx) TouchAppointment(id string, at time.Time, version int64, origin string) error {
	t.appointmentChanged(id, func(s *appointmentState) { s.shown.version, s.shown.origin = version, origin })
	return t.execOne("touch appointment "+id, `UPDATE appointments SET updated_at = ?, version = ?, origin_node = ?
		WHERE id = ?`, at.UnixNano(), version, origin, id)
}

// SetParticipant records how userID takes part in an appointment.
func (t *Tx) SetParticipant(appointmentID, userID, status string, version int64, origin string) error {
	_, err := t.exec(`INSERT INTO participants (appointment_id, user_id, status, version, origin_node)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (appointment_id, user_id) DO UPDATE SET status = excluded.status,
		version = excluded.version, origin_node = excluded.origin_node`,
		appointmentID, userID, status, version, origin)
	if err != nil {
		return fmt.Errorf("set participant %s of %s: %w", userID, appointmentID, err)
	}
	return nil
}

// RemoveParticipant takes userID off an appointment's participants.
func (t *Tx) RemoveParticipant(appointmentID, userID string) error {
	return t.execOne("remove participant "+userID+" of "+appointmentID,
		`DELETE FROM participants WHERE appointment_id = ? AND user_id = ?`, appointmentID, userID)
}

// AppointmentInfo is what the projection needs of an appointment to word
// notifications about it.
type AppointmentInfo struct {
	ID, OwnerID, GroupID, Title string
	Start, End                  time.Time
	Status                      string
}

// AppointmentInfo reads an appointment inside the projection's transaction:
// from what the transaction knows of the row it wrote, if it wrote it (a
// group appointment's invitations are worded in the transaction that
// creates it, one for each participant), or else from the row.
func (t *Tx) AppointmentInfo(id string) (AppointmentInfo, error) {
	if s := t.appointments[id]; s != nil && s.known {
		return AppointmentInfo{ID: id, OwnerID: s.owner, GroupID: s.shown.groupID, Title: s.shown.title,
			Start: time.Unix(0, s.start).UTC(), End: time.Unix(0, s.end).UTC(), Status: s.shown.status}, nil
	}
	var a AppointmentInfo
	var start, end int64
	err := t.queryRow(`SELECT id, owner_id, group_id, title, start_ns, end_ns, status
		FROM appointments WHERE id = ?`, id).Scan(&a.ID, &a.OwnerID, &a.GroupID, &a.Title, &start, &end, &a.Status)
	if err != nil {
		return a, fmt.Errorf("read appointment %s: %w", id, err)
	}
	a.Start, a.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
	return a, nil
}

// ParticipantStatuses maps each participant of an appointment to their
// status, inside the projection's transaction. Only the notifications sent
// to every participant need them: the rest are addressed to one person the
// event names.
func (t *Tx) ParticipantStatuses(id string) (map[string]string, error) {
	rows, err := t.query(`SELECT user_id, status FROM participants WHERE appointment_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read participants of %s: %w", id, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var u, st string
		if err := rows.Scan(&u, &st); err != nil {
			return nil, err
		}
		out[u] = st
	}
	return out, rows.Err()
}
