package eventstore

const schemaVersion = 1

// schema: positions are dense and start at 1; streams caches each stream's
// version and the position of its last event (derivable from events, kept
// for O(1) expectation checks); meta holds the applied Raft index and term.
const schema = `
CREATE TABLE events (
	position       INTEGER PRIMARY KEY,
	id             TEXT    NOT NULL UNIQUE,
	stream         TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	schema_version INTEGER NOT NULL,
	time           TEXT    NOT NULL,
	origin_node    TEXT    NOT NULL,
	actor          TEXT    NOT NULL,
	correlation_id TEXT    NOT NULL,
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
	stream   TEXT    PRIMARY KEY,
	version  INTEGER NOT NULL,
	position INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
	key   TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('applied_index', 0), ('applied_term', 0);
`
