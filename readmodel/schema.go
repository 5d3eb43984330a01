package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/agendahq/agenda/internal/sqlite"
)

// SchemaVersion is the version of the file's layout: the tables every
// projection shares (checkpoints, projection_schemas). A read model file
// with another version is discarded whole and rebuilt from the event store.
// A change to one projection's tables bumps that projection's version in
// projectionVersions instead: only it is rebuilt (see migrateProjections).
//
// Version 7: the "agenda" projection became "planning" (a new checkpoint
// key), and each projection got a schema version of its own.
const SchemaVersion = 7

// projectionVersions is each projection's schema version: change it
// whenever its tables, or what it derives into them, change. A read model
// that holds another version of a projection drops and recreates that
// projection's tables and resets its checkpoint at Open, so the projector
// rebuilds it from the event store (the other projections keep theirs).
var projectionVersions = map[string]int{
	ProjectionUsers: 1,
	// 2: agenda_entries keyed by (appointment, user), without the index
	// by appointment. 3: what a feed entry says stored once per event and
	// variant (feed_events), not in every recipient's row. 5: agenda
	// entries hold what the agenda shows of each appointment, in an index
	// by (user, start), so that reading an agenda needs no join. (4 was
	// the same with the table keyed by user and start, briefly on main:
	// SwitchFrom copies columns by position, so a layout change needs a
	// version of its own.) 6: the indexes by group and by participant
	// hold only group appointments and unanswered invitations. 7: an index
	// of unread notifications. 8: participants know their appointment is
	// cancelled, and the invitation index leaves such rows out. 9: a
	// membership's version counts its own changes, not the group's (every
	// node must count alike, or an ETag from one node fails If-Match on
	// another). 10: the feed tells what a review found it kept from
	// people concerned (a personal appointment's changes to those who see
	// its entry, a participant's removal, a group's deletion to those
	// invited, where a busy time moved from), and who takes part in an
	// appointment is decided by its participants, not its entries so far.
	// 11: a group's deletion notifies its members (group_deleted). 12: an
	// organiser hears who no longer takes part (participant_removed). 13:
	// the feed shows what the group agenda shows (no pending entry to
	// others; frames about another's agenda on their agenda stream at
	// version 0; no entry to those who take part in its appointment), tells
	// a group appointment's changes to members who joined after it, a
	// group's renaming to those invited, and a display name's change to
	// those shown it. 14: a group's new name alone to those invited; a
	// privacy change's busy frame only to those who saw details; invitees'
	// names to members (a node that projected under 13 rebuilds, so that
	// every node writes the same rows for the same positions). 15: a
	// member_removed notification says "invited" when the recipient was
	// only invited (an invitation withdrawn, or ended by the deletion).
	// 16: an event that takes away the right to see something closes the
	// feed before it for those who lost it (feed_pruned, RevokeFeed), and
	// the people only invited get the group's events, and those told only
	// a notification its frame, at version 0 (rebuilt, so that past
	// events close the feeds they should on every node alike). 17: an
	// invitation records whose authority its rank rests on (ranked_by).
	// 18: the answer to an invitation whose inviter left is told to the
	// member its rank rests on (a departed creator's heir).
	ProjectionPlanning: 18,
}

// baseSchema holds the tables every projection shares.
const baseSchema = `
CREATE TABLE checkpoints (
	projection TEXT    PRIMARY KEY,
	position   INTEGER NOT NULL
) WITHOUT ROWID;

-- The schema version of each projection's tables (projectionVersions).
CREATE TABLE projection_schemas (
	projection TEXT    PRIMARY KEY,
	version    INTEGER NOT NULL
) WITHOUT ROWID;
`

// Times are stored as Unix nanoseconds so range queries compare integers.
const usersSchema = `
CREATE TABLE users (
	id            TEXT    PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE,
	display_name  TEXT    NOT NULL,
	-- display_name lower-cased by Go (SQLite's lower() folds ASCII only),
	-- for case-insensitive search.
	display_fold  TEXT    NOT NULL,
	email         TEXT    NOT NULL,
	password_hash TEXT    NOT NULL,
	-- token_epoch counts password changes: a login token is valid only
	-- with the epoch it was issued at. tokens_version is the version of
	-- the user's token stream (logouts).
	token_epoch    INTEGER NOT NULL DEFAULT 0,
	tokens_version INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	version       INTEGER NOT NULL,
	origin_node   TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX users_by_display_fold ON users (display_fold);

-- Login tokens ended by logging out, until they would have expired
-- anyway (expires_at, Unix nanoseconds).
CREATE TABLE revoked_tokens (
	token_id   TEXT    PRIMARY KEY,
	user_id    TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
`

const planningSchema = `
CREATE TABLE appointments (
	id          TEXT    PRIMARY KEY,
	owner_id    TEXT    NOT NULL,
	group_id    TEXT    NOT NULL,
	title       TEXT    NOT NULL,
	description TEXT    NOT NULL,
	location    TEXT    NOT NULL,
	start_ns    INTEGER NOT NULL,
	end_ns      INTEGER NOT NULL,
	privacy     TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	-- 1 for an appointment that holds only once every invitee accepts (a
	-- flat group's): created pending. One decline cancels it.
	needs_all   INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	origin_node TEXT    NOT NULL
) WITHOUT ROWID;
-- Only group appointments are in it: most appointments are personal, and
-- reads by group (PendingGroupAppointments, GroupParticipations) say
-- group_id <> '' so that SQLite may use it. status and end_ns let those
-- reads filter in the index.
CREATE INDEX appointments_by_group ON appointments (group_id, status, end_ns) WHERE group_id <> '';

-- Keyed by appointment first: appointment IDs are time-ordered (UUIDv7),
-- so a new entry lands on the table's last page rather than on a page of
-- its user's, and the key serves look-ups by appointment without an index
-- of its own. Each row also holds what the agenda shows of its appointment
-- (group_id to a_origin_node, copied from appointments when the entry is
-- added and whenever the appointment's row changes, see Tx.refreshEntries;
-- cleared when it is deleted, status '' meaning no appointment),
-- and agenda_entries_by_start holds all of it in the order a user's agenda
-- is read: reading a week is a few consecutive index pages, not one look-up
-- per entry. (Keying the table itself by user and start instead, tried, made
-- a rebuild 30 % slower: its entries no longer land on the last page, and
-- this index can no longer be built once at the end.)
CREATE TABLE agenda_entries (
	appointment_id TEXT    NOT NULL,
	user_id        TEXT    NOT NULL,
	start_ns       INTEGER NOT NULL,
	end_ns         INTEGER NOT NULL,
	role           TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	origin_node    TEXT    NOT NULL,
	group_id       TEXT    NOT NULL DEFAULT '',
	title          TEXT    NOT NULL DEFAULT '',
	description    TEXT    NOT NULL DEFAULT '',
	location       TEXT    NOT NULL DEFAULT '',
	privacy        TEXT    NOT NULL DEFAULT '',
	status         TEXT    NOT NULL DEFAULT '',
	a_version      INTEGER NOT NULL DEFAULT 0,
	a_origin_node  TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (appointment_id, user_id)
) WITHOUT ROWID;
CREATE INDEX agenda_entries_by_start ON agenda_entries (user_id, start_ns, appointment_id, end_ns, role,
	group_id, title, description, location, privacy, status, a_version, a_origin_node);

-- The version of each user's agenda stream, as far as this read model has
-- seen it: what a command expects when it checked the agenda for overlaps.
-- max_duration_ns is the longest entry the user has ever had: overlap
-- queries look back that far before a window (instead of the 31-day bound).
CREATE TABLE agenda_streams (
	user_id         TEXT    PRIMARY KEY,
	version         INTEGER NOT NULL,
	origin_node     TEXT    NOT NULL,
	max_duration_ns INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Who takes part in an appointment, and how (owner, auto, pending,
-- accepted, declined). Unlike agenda_entries, a participant stays listed
-- after declining or after a cancellation. version is the appointment
-- stream's version when the row last changed. cancelled is 1 once the
-- appointment is cancelled (a copy of its status, for the index below).
CREATE TABLE participants (
	appointment_id TEXT    NOT NULL,
	user_id        TEXT    NOT NULL,
	status         TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	origin_node    TEXT    NOT NULL,
	cancelled      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (appointment_id, user_id)
) WITHOUT ROWID;
-- A user's open invitations (Invitations), and only those: every
-- appointment has its organiser as a participant, no read looks a user's
-- other participations up by user, and an invitation to an appointment
-- cancelled since (a flat group's decline cancels it for every invitee)
-- can no longer be answered. The literal is agenda.RolePending
-- (TestQueryPlans fails if they part).
CREATE INDEX participants_by_user ON participants (user_id) WHERE status = 'pending' AND cancelled = 0;

CREATE TABLE groups (
	id           TEXT    PRIMARY KEY,
	name         TEXT    NOT NULL,
	description  TEXT    NOT NULL,
	hierarchical INTEGER NOT NULL,
	creator_id   TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	version      INTEGER NOT NULL,
	origin_node  TEXT    NOT NULL
) WITHOUT ROWID;

-- version counts the membership's own changes (1 when it first begins;
-- see ended_memberships). status
-- is 'active' for a member, 'invited' for someone invited who has not
-- answered yet (invited_by invited them; joined_at is then the time of the
-- invitation). Invited people see nothing of the group and count nowhere.
-- ranked_by is whose authority an invitation's rank rests on: its inviter,
-- a member who re-ranked it since, or the heir of a creator who did either
-- (agenda.Member.RankedBy).
CREATE TABLE group_members (
	group_id    TEXT    NOT NULL,
	user_id     TEXT    NOT NULL,
	rank        INTEGER NOT NULL,
	status      TEXT    NOT NULL DEFAULT 'active',
	invited_by  TEXT    NOT NULL DEFAULT '',
	ranked_by   TEXT    NOT NULL DEFAULT '',
	joined_at   INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	origin_node TEXT    NOT NULL,
	PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (user_id);

-- The version each ended membership (a member removed or gone, an
-- invitation declined or withdrawn) had last: a new membership of the same
-- person in the same group counts on from it, so that an ETag of the old
-- one never matches the new one.
CREATE TABLE ended_memberships (
	group_id TEXT    NOT NULL,
	user_id  TEXT    NOT NULL,
	version  INTEGER NOT NULL,
	PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- Notifications are derived from the events that concern a user; id is a
-- name-based UUID of (event ID, recipient), so a rebuild derives the same
-- IDs. position is the event's global position; read_at is NULL if unread.
CREATE TABLE notifications (
	id          TEXT    PRIMARY KEY,
	user_id     TEXT    NOT NULL,
	type        TEXT    NOT NULL,
	payload     TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	read_at     INTEGER,
	position    INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	origin_node TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX notifications_by_user ON notifications (user_id, position);
-- A user's unread notifications: what the unread list, the unread count
-- and marking all read look up, none of which may walk a lifetime of read
-- ones. The statements say read_at IS NULL, as SQLite needs to use it.
CREATE INDEX notifications_unread ON notifications (user_id, position) WHERE read_at IS NULL;

-- The version of each user's notification stream (what they marked read).
CREATE TABLE notification_streams (
	user_id     TEXT    PRIMARY KEY,
	version     INTEGER NOT NULL,
	origin_node TEXT    NOT NULL
) WITHOUT ROWID;
`

// Projection names, each with its own checkpoint.
//
// Appointments, participants, agenda entries, groups, memberships and
// notifications belong to one projection on purpose: they are read together
// to decide commands (who is in a group at which rank, who takes part in an
// appointment, whose agenda stream to expect) and to show a group's agendas,
// and notifications are derived from all of them, so they must always
// reflect the same position.
const (
	ProjectionUsers    = "users"
	ProjectionPlanning = "planning"
)

// Projections lists every projection of this read model.
var Projections = []string{ProjectionUsers, ProjectionPlanning}

// projectionSchemas holds the tables of each projection.
var projectionSchemas = map[string]string{
	ProjectionUsers:    usersSchema,
	ProjectionPlanning: planningSchema + feedSchema,
}

// projectionTables lists the tables each projection owns, cleared on rebuild.
var projectionTables = map[string][]string{
	ProjectionUsers: {"users", "revoked_tokens"},
	ProjectionPlanning: {"appointments", "agenda_entries", "agenda_streams", "participants",
		"groups", "group_members", "ended_memberships", "notifications", "notification_streams", "feed", "feed_events", "feed_pruned"},
}

// schema is what a new read model file is created with: the shared tables,
// every projection's tables, and their versions.
func schema() string {
	var b strings.Builder
	b.WriteString(baseSchema)
	for _, p := range Projections {
		b.WriteString(projectionSchemas[p])
		fmt.Fprintf(&b, "INSERT INTO projection_schemas (projection, version) VALUES ('%s', %d);\n", p, projectionVersions[p])
	}
	return b.String()
}

// migrateProjections compares each projection's schema version in the file
// with this build's. A projection whose version differs (or is missing) has
// its tables dropped and created anew and its checkpoint removed, in one
// transaction: the projector then rebuilds it from the event store, the
// way a changed projection rebuilds itself at start, while the other
// projections keep their tables and positions.
func migrateProjections(ctx context.Context, sdb *sqlite.DB) (rebuilt []string, err error) {
	stored := map[string]int{}
	rows, err := sdb.Write.QueryContext(ctx, "SELECT projection, version FROM projection_schemas")
	if err != nil {
		return nil, fmt.Errorf("read projection schema versions: %w", err)
	}
	for rows.Next() {
		var name string
		var v int
		if err := rows.Scan(&name, &v); err != nil {
			rows.Close()
			return nil, err
		}
		stored[name] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, p := range Projections {
		if v, ok := stored[p]; ok && v == projectionVersions[p] {
			continue
		}
		err := sdb.WithTx(ctx, func(tx *sql.Tx) error {
			for _, t := range projectionTables[p] {
				if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
					return fmt.Errorf("drop %s: %w", t, err)
				}
			}
			if _, err := tx.ExecContext(ctx, projectionSchemas[p]); err != nil {
				return fmt.Errorf("create the tables of %s: %w", p, err)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM checkpoints WHERE projection = ?", p); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO projection_schemas (projection, version) VALUES (?, ?)
				ON CONFLICT (projection) DO UPDATE SET version = excluded.version`, p, projectionVersions[p])
			return err
		})
		if err != nil {
			return rebuilt, fmt.Errorf("migrate projection %s to schema version %d: %w", p, projectionVersions[p], err)
		}
		rebuilt = append(rebuilt, p)
	}
	return rebuilt, nil
}
