package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/sqlite"
)

// lookBack is how far before a window an overlapping entry of user ?1 may
// start: their longest entry so far (read in the same statement, hence from
// the same snapshot as the entries).
const lookBack = `COALESCE((SELECT max_duration_ns FROM agenda_streams WHERE user_id = ?1), 0)`

// Agenda returns a user's entries overlapping [from, to), by start time:
// those whose appointment exists (an entry without a copy of its
// appointment, its status empty, has none; see DeleteAppointment).
func (db *DB) Agenda(ctx context.Context, userID string, from, to time.Time) ([]agenda.Entry, error) {
	out := []agenda.Entry{}
	err := db.EachAgendaEntry(ctx, userID, from, to, func(e *agenda.Entry) error {
		out = append(out, *e)
		return nil
	})
	return out, err
}

// EachAgendaEntry calls fn with each entry Agenda returns, in order, and
// stops at the first error fn returns. The entry is reused from one call to
// the next, and fn runs inside the read: it should copy or encode what it
// keeps and return, never wait (nor write to a client, who could hold the
// read open). This is how the API answers an agenda read: a week is 168
// entries, and collecting them in a slice first was 75 % of what a read
// allocated, the garbage collector's work with it. A window holding more
// than agenda.MaxAgendaEntries entries is refused (agenda.AgendaTooLarge)
// when the read meets the entry past the bound, after fn has seen the
// others: what fn built is then to be thrown away.
func (db *DB) EachAgendaEntry(ctx context.Context, userID string, from, to time.Time, fn func(*agenda.Entry) error) error {
	// No entry of the user is longer than their max_duration_ns, so every
	// entry that overlaps the window starts after from minus that: the index
	// on (user_id, start_ns) bounds the scan on both sides.
	err := db.db.View(ctx, func(c *sqlite.Conn) error {
		rows, err := c.Query(`SELECT appointment_id, group_id, title, description, location, start_ns, end_ns,
			privacy, status, role, a_version, a_origin_node
			FROM agenda_entries
			WHERE user_id = ?1 AND start_ns > ?2 - `+lookBack+` AND start_ns < ?3 AND end_ns > ?2 AND status <> ''
			ORDER BY start_ns, appointment_id LIMIT ?4`,
			userID, from.UnixNano(), to.UnixNano(), agenda.MaxAgendaEntries+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		// Scan's pointers escape: one entry and one set of the columns
		// that need converting serve every row.
		var row struct {
			e          agenda.Entry
			groupID    string
			start, end int64
		}
		e := &row.e
		var n entryCount
		for rows.Next() {
			if err := n.next(); err != nil {
				return err
			}
			if err := rows.Scan(&e.AppointmentID, &row.groupID, &e.Title, &e.Description, &e.Location, &row.start, &row.end,
				&e.Privacy, &e.Status, &e.MyStatus, &e.Version, &e.OriginNode); err != nil {
				return err
			}
			e.GroupID = nullable(row.groupID)
			e.Start, e.End = time.Unix(0, row.start).UTC(), time.Unix(0, row.end).UTC()
			e.Pending = e.MyStatus == agenda.RolePending
			if err := fn(e); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("read agenda of %s: %w", userID, err)
	}
	return nil
}

// entryCount counts the entries an agenda read meets, so that every read
// refuses the one past agenda.MaxAgendaEntries alike (a statement that
// reads entries alone stops there: LIMIT MaxAgendaEntries+1).
type entryCount int

// next counts one more entry: agenda.AgendaTooLarge past the bound.
func (n *entryCount) next() error {
	if *n++; *n > agenda.MaxAgendaEntries {
		return agenda.AgendaTooLarge()
	}
	return nil
}

// blockingRolesFrom returns the SQL list "?first, ?first+1, ..." of
// numbered parameters that hold agenda.BlockingRoles (blockingRoleArgs
// holds their values). The filters that pick the entries blocking a user's
// time take the set from the Go rule rather than repeat it; the parameters
// come last in each statement so that the list may grow.
// TestBlockingRolesAgreeWithSQL proves the SQL and agenda.Blocks agree on
// every status.
func blockingRolesFrom(first int) string { return numberedParams(first, len(agenda.BlockingRoles())) }

// liveStatusesFrom is blockingRolesFrom for agenda.LiveStatuses.
func liveStatusesFrom(first int) string { return numberedParams(first, len(agenda.LiveStatuses())) }

// numberedParams returns the SQL list "?first, ?first+1, ..." of n
// numbered parameters.
func numberedParams(first, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("?%d", first+i)
	}
	return strings.Join(ps, ", ")
}

// blockingRoleArgs and liveStatusArgs hold the values of blockingRolesFrom's
// and liveStatusesFrom's parameters, built once: Schedule runs on every
// booking's decision.
var (
	blockingRoleArgs = stringArgs(agenda.BlockingRoles())
	liveStatusArgs   = stringArgs(agenda.LiveStatuses())
)

// stringArgs returns ss as statement arguments.
func stringArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// withBlockingRoles returns a statement's leading arguments followed by the
// blocking roles, in one allocation.
func withBlockingRoles(args ...any) []any {
	return append(append(make([]any, 0, len(args)+len(blockingRoleArgs)), args...), blockingRoleArgs...)
}

// scheduleQuery reads a user's schedule: ?1 user, ?3 end, ?4 start,
// ?5 excluded appointment, ?6... the blocking roles. One statement, so the
// version and the conflicts come from the same snapshot without the cost of
// an explicit transaction: the row of kind 0 carries the version, those of
// kind 1 the conflicts.
//
// The statement has no ORDER BY and no join because, before every connection
// ran with the query planner stability guarantee (see query), either made
// SQLite parse and plan it again on every run, which cost 5 times
// the query itself (51 µs against 10 µs, BenchmarkSchedule) on every
// booking's decision. Schedule sorts the conflicts instead; the title is
// the entry's copy of its appointment's.
var scheduleQuery = `
		SELECT 0 AS kind, '', '', COALESCE((SELECT version FROM agenda_streams WHERE user_id = ?1), 0), 0
		UNION ALL
		SELECT 1, e.appointment_id, e.title, e.start_ns, e.end_ns
		FROM agenda_entries e
		WHERE e.user_id = ?1 AND e.start_ns > ?4 - ` + lookBack + ` AND e.start_ns < ?3 AND e.end_ns > ?4
		AND e.appointment_id <> ?5 AND e.role IN (` + blockingRolesFrom(6) + `)`

// Schedule returns the version of userID's schedule stream and the entries
// that block [start, end), other than appointment exclude, by start time.
func (db *DB) Schedule(ctx context.Context, userID string, start, end time.Time, exclude string) (agenda.Schedule, error) {
	var s agenda.Schedule
	err := db.db.View(ctx, func(c *sqlite.Conn) error {
		rows, err := c.Query(scheduleQuery, withBlockingRoles(userID, nil, end.UnixNano(), start.UnixNano(), exclude)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var kind int
			var sl agenda.Slot
			var st, en int64
			if err := rows.Scan(&kind, &sl.AppointmentID, &sl.Title, &st, &en); err != nil {
				return err
			}
			if kind == 0 {
				s.Version = st
				continue
			}
			sl.Start, sl.End = time.Unix(0, st).UTC(), time.Unix(0, en).UTC()
			s.Conflicts = append(s.Conflicts, sl)
		}
		return rows.Err()
	})
	if err != nil {
		return agenda.Schedule{}, fmt.Errorf("read schedule of %s: %w", userID, err)
	}
	slices.SortFunc(s.Conflicts, func(a, b agenda.Slot) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.AppointmentID, b.AppointmentID)
	})
	return s, nil
}

// ScheduleVersion returns the version of userID's schedule stream as far as
// the read model has seen it.
func (db *DB) ScheduleVersion(ctx context.Context, userID string) (int64, error) {
	var v int64
	err := db.queryRow(ctx, "SELECT version FROM agenda_streams WHERE user_id = ?", userID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// AddAgendaEntry puts an appointment in a user's agenda, with what the
// agenda shows of it: as this transaction last wrote the appointment's row,
// or else copied from the row.
func (t *Tx) AddAgendaEntry(userID, appointmentID string, start, end time.Time, role, origin string) error {
	t.noteDuration(userID, start, end)
	a := t.appointment(appointmentID)
	var err error
	if a.known {
		err = t.insertEntry(userID, appointmentID, start, end, role, origin, a.shown)
	} else {
		var n int64
		if n, err = t.insertEntryFromRow(userID, appointmentID, start, end, role, origin); err == nil && n == 0 {
			// No appointment row (yet): the entry waits for it, and
			// the transaction copies it in at the end if it comes.
			err = t.insertEntry(userID, appointmentID, start, end, role, origin, entryCopy{})
			a.stale = true
		}
	}
	if err != nil {
		return fmt.Errorf("add agenda entry %s/%s: %w", userID, appointmentID, err)
	}
	a.copied = true
	return nil
}

func (t *Tx) insertEntry(userID, appointmentID string, start, end time.Time, role, origin string, c entryCopy) error {
	_, err := t.exec(`INSERT INTO agenda_entries (user_id, start_ns, appointment_id, end_ns, role, version, origin_node,
		group_id, title, description, location, privacy, status, a_version, a_origin_node)
		VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, userID, start.UnixNano(), appointmentID, end.UnixNano(),
		role, origin, c.groupID, c.title, c.description, c.location, c.privacy, c.status, c.version, c.origin)
	return err
}

// insertEntryFromRow inserts the entry with a copy of its appointment's
// row, and reports how many it inserted: 0 if there is no row.
func (t *Tx) insertEntryFromRow(userID, appointmentID string, start, end time.Time, role, origin string) (int64, error) {
	res, err := t.exec(`INSERT INTO agenda_entries (user_id, start_ns, appointment_id, end_ns, role, version, origin_node,
		group_id, title, description, location, privacy, status, a_version, a_origin_node)
		SELECT ?1, ?2, ?3, ?4, ?5, 1, ?6, group_id, title, description, location, privacy, status, version, origin_node
		FROM appointments WHERE id = ?3`, userID, start.UnixNano(), appointmentID, end.UnixNano(), role, origin)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// entryCopy is what an agenda entry holds of its appointment's row.
type entryCopy struct {
	groupID, title, description, location, privacy, status string
	version                                                int64
	origin                                                 string
}

// appointmentState is what a transaction knows of an appointment whose row
// it wrote or whose entries it added.
type appointmentState struct {
	shown entryCopy
	// owner, start and end (Unix nanoseconds) complete shown with what
	// AppointmentInfo reads.
	owner      string
	start, end int64
	// known: shown, owner, start and end are the row as the transaction
	// left it.
	known bool
	// inserted: the transaction inserted the row. Commands append an
	// appointment's creation before any entry of it, so every entry of
	// the appointment is then one this transaction added after the row,
	// or before it in this same transaction (copied is then set, and
	// stale). An entry projected before its row in an earlier
	// transaction, which no command produces, would keep no copy and stay
	// out of the agenda.
	inserted bool
	// copied: an entry of the appointment was added in the transaction.
	copied bool
	// stale: entries may hold an older copy of the row: refreshEntries
	// copies it again when the transaction ends.
	stale bool
}

func (t *Tx) appointment(id string) *appointmentState {
	if t.appointments == nil {
		t.appointments = map[string]*appointmentState{}
	}
	a := t.appointments[id]
	if a == nil {
		a = &appointmentState{}
		t.appointments[id] = a
	}
	return a
}

// appointmentInserted records the row InsertAppointment wrote.
func (t *Tx) appointmentInserted(r AppointmentRecord) {
	a := t.appointment(r.ID)
	a.shown = entryCopy{r.GroupID, r.Title, r.Description, r.Location, r.Privacy, r.Status, r.Version, r.OriginNode}
	a.owner, a.start, a.end = r.OwnerID, r.Start.UnixNano(), r.End.UnixNano()
	a.known = true
	a.inserted = !a.copied // entries added before the row hold no copy of it (stale is set)
}

// appointmentChanged records a change of the appointment's row (change,
// when the transaction knows the row, applies it to what it knows): the
// entries that copied the row before must copy it again, once, at the end.
// An appointment inserted in this transaction that has no entry yet needs
// nothing: its entries will copy shown.
func (t *Tx) appointmentChanged(id string, change func(*appointmentState)) {
	a := t.appointment(id)
	if a.known {
		change(a)
	}
	if !a.inserted || a.copied {
		a.stale = true
	}
}

// refreshEntries copies the row of each appointment whose entries may hold
// an older copy of it into them: as the transaction knows it, or else from
// the row.
func (t *Tx) refreshEntries() error {
	for id, a := range t.appointments {
		if !a.stale {
			continue
		}
		var err error
		if a.known {
			err = t.copyToEntries(id, a.shown)
		} else {
			_, err = t.exec(`UPDATE agenda_entries SET group_id = a.group_id, title = a.title,
				description = a.description, location = a.location, privacy = a.privacy, status = a.status,
				a_version = a.version, a_origin_node = a.origin_node
				FROM appointments a WHERE a.id = ?1 AND agenda_entries.appointment_id = ?1`, id)
		}
		if err != nil {
			return fmt.Errorf("copy appointment %s into its agenda entries: %w", id, err)
		}
	}
	return nil
}

// copyToEntries sets what every entry of an appointment holds of it (the
// zero entryCopy: no appointment, see DeleteAppointment).
func (t *Tx) copyToEntries(id string, c entryCopy) error {
	_, err := t.exec(`UPDATE agenda_entries SET group_id = ?, title = ?, description = ?, location = ?,
		privacy = ?, status = ?, a_version = ?, a_origin_node = ? WHERE appointment_id = ?`,
		c.groupID, c.title, c.description, c.location, c.privacy, c.status, c.version, c.origin, id)
	return err
}

// RescheduleAgendaEntry moves an entry.
func (t *Tx) RescheduleAgendaEntry(userID, appointmentID string, start, end time.Time, origin string) error {
	t.noteDuration(userID, start, end)
	return t.execOne("reschedule agenda entry "+userID+"/"+appointmentID, `UPDATE agenda_entries
		SET start_ns = ?, end_ns = ?, version = version + 1, origin_node = ? WHERE user_id = ? AND appointment_id = ?`,
		start.UnixNano(), end.UnixNano(), origin, userID, appointmentID)
}

// RemoveAgendaEntry takes an entry out of a user's agenda.
func (t *Tx) RemoveAgendaEntry(userID, appointmentID string) error {
	return t.execOne("remove agenda entry "+userID+"/"+appointmentID,
		`DELETE FROM agenda_entries WHERE user_id = ? AND appointment_id = ?`, userID, appointmentID)
}

// SetAgendaVersion records the version of a user's schedule stream (written
// when the transaction commits).
func (t *Tx) SetAgendaVersion(userID string, version int64, origin string) error {
	v := t.agendaVersion(userID)
	v.version, v.origin = version, origin
	t.agendaVersions[userID] = v
	return nil
}

func (t *Tx) agendaVersion(userID string) agendaVersion {
	if t.agendaVersions == nil {
		t.agendaVersions = map[string]agendaVersion{}
	}
	return t.agendaVersions[userID]
}

// noteDuration records an entry's length for the user's look-back bound.
func (t *Tx) noteDuration(userID string, start, end time.Time) {
	v := t.agendaVersion(userID)
	v.maxDuration = max(v.maxDuration, int64(end.Sub(start)))
	t.agendaVersions[userID] = v
}

// ChangeAgendaEntryRole changes how a user takes part in an entry.
func (t *Tx) ChangeAgendaEntryRole(userID, appointmentID, role, origin string) error {
	return t.execOne("change role of agenda entry "+userID+"/"+appointmentID, `UPDATE agenda_entries
		SET role = ?, version = version + 1, origin_node = ? WHERE user_id = ? AND appointment_id = ?`,
		role, origin, userID, appointmentID)
}
