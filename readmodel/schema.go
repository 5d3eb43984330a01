package readmodel

// SchemaVersion changes whenever the schema below does; a read model file
// with another version is discarded and rebuilt from the event store.
const SchemaVersion = 3

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
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	version       INTEGER NOT NULL,
	origin_node   TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX users_by_display_fold ON users (display_fold);

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
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	origin_node TEXT    NOT NULL
) WITHOUT ROWID;

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
`

// Projection names, each with its own checkpoint.
//
// Appointments and agenda entries belong to one projection on purpose: an
// appointment and its participants are read together to decide commands
// (who must be told of a change, whose agenda stream to expect), so they must
// always reflect the same position.
const (
	ProjectionUsers  = "users"
	ProjectionAgenda = "agenda"
)

// Projections lists every projection of this read model.
var Projections = []string{ProjectionUsers, ProjectionAgenda}

// projectionTables lists the tables each projection owns, cleared on rebuild.
var projectionTables = map[string][]string{
	ProjectionUsers:  {"users"},
	ProjectionAgenda: {"appointments", "agenda_entries", "agenda_streams"},
}
