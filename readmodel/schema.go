package readmodel

// SchemaVersion changes whenever the schema below does; a read model file
// with another version is discarded and rebuilt from the event store.
const SchemaVersion = 6

// Times are stored as Unix nanoseconds so range queries compare integers.
const schema = `
CREATE TABLE checkpoints (
	projection TEXT    PRIMARY KEY,
	position   INTEGER NOT NULL
) WITHOUT ROWID;

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
CREATE INDEX appointments_by_group ON appointments (group_id, status);

CREATE TABLE agenda_entries (
	user_id        TEXT    NOT NULL,
	appointment_id TEXT    NOT NULL,
	start_ns       INTEGER NOT NULL,
	end_ns         INTEGER NOT NULL,
	role           TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	origin_node    TEXT    NOT NULL,
	PRIMARY KEY (user_id, appointment_id)
) WITHOUT ROWID;
CREATE INDEX agenda_entries_by_start ON agenda_entries (user_id, start_ns, end_ns, role);
CREATE INDEX agenda_entries_by_appointment ON agenda_entries (appointment_id);

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
-- stream's version when the row last changed.
CREATE TABLE participants (
	appointment_id TEXT    NOT NULL,
	user_id        TEXT    NOT NULL,
	status         TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	origin_node    TEXT    NOT NULL,
	PRIMARY KEY (appointment_id, user_id)
) WITHOUT ROWID;
CREATE INDEX participants_by_user ON participants (user_id, status);

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

-- version is the group stream's version when the row last changed. status
-- is 'active' for a member, 'invited' for someone invited who has not
-- answered yet (invited_by invited them; joined_at is then the time of the
-- invitation). Invited people see nothing of the group and count nowhere.
CREATE TABLE group_members (
	group_id    TEXT    NOT NULL,
	user_id     TEXT    NOT NULL,
	rank        INTEGER NOT NULL,
	status      TEXT    NOT NULL DEFAULT 'active',
	invited_by  TEXT    NOT NULL DEFAULT '',
	joined_at   INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	origin_node TEXT    NOT NULL,
	PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (user_id);

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

-- The version of each user's notification stream (what they marked read).
CREATE TABLE notification_streams (
	user_id     TEXT    PRIMARY KEY,
	version     INTEGER NOT NULL,
	origin_node TEXT    NOT NULL
) WITHOUT ROWID;
` + feedSchema

// Projection names, each with its own checkpoint.
//
// Appointments, participants, agenda entries, groups, memberships and
// notifications belong to one projection on purpose: they are read together
// to decide commands (who is in a group at which rank, who takes part in an
// appointment, whose agenda stream to expect) and to show a group's agendas,
// and notifications are derived from all of them, so they must always
// reflect the same position.
const (
	ProjectionUsers  = "users"
	ProjectionAgenda = "agenda"
)

// Projections lists every projection of this read model.
var Projections = []string{ProjectionUsers, ProjectionAgenda}

// projectionTables lists the tables each projection owns, cleared on rebuild.
var projectionTables = map[string][]string{
	ProjectionUsers: {"users", "revoked_tokens"},
	ProjectionAgenda: {"appointments", "agenda_entries", "agenda_streams", "participants",
		"groups", "group_members", "notifications", "notification_streams", "feed", "feed_pruned"},
}
