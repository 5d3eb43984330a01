package eventstore

// schemaVersion 2 stores IDs, times and data encoded (codec.go); version 1
// stored them as text and JSON, and Open migrates it (migrate.go).
const schemaVersion = 2

// schema: positions are dense and start at 1; streams caches each stream's
// version and the position of its last event (derivable from events, kept
// for O(1) expectation checks); meta holds the applied Raft index and term.
const schema = logSchema + `
CREATE TABLE meta (
	key   TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('applied_index', 0), ('applied_term', 0);
`

// logSchema holds the events and the streams. The columns codec.go packs
// are declared BLOB, the one type affinity under which SQLite keeps every
// value as it was bound (TEXT stays TEXT, BLOB stays BLOB); time is
// INTEGER, which keeps the RFC 3339 text of a time packTime could not
// turn into nanoseconds as text.
const logSchema = `
CREATE TABLE events (
	position       INTEGER PRIMARY KEY,
	id             BLOB    NOT NULL UNIQUE,
	stream         BLOB    NOT NULL,
	version        INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	schema_version INTEGER NOT NULL,
	time           INTEGER NOT NULL,
	origin_node    TEXT    NOT NULL,
	actor          BLOB    NOT NULL,
	correlation_id BLOB    NOT NULL,
	data           BLOB    NOT NULL,
	UNIQUE (stream, version)
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
-- INSERT OR REPLACE deletes the old row without firing delete triggers.
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE position = NEW.position OR id = NEW.id
	OR (stream = NEW.stream AND version = NEW.version))
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE streams (
	stream   BLOB    PRIMARY KEY,
	version  INTEGER NOT NULL,
	position INTEGER NOT NULL
) WITHOUT ROWID;
`
