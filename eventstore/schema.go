package eventstore

// schemaVersion 3 has no index on (stream, version); version 2 had one,
// version 1 also stored IDs, times and data as text and JSON (codec.go
// encodes them since version 2). Open migrates both (migrate.go).
const schemaVersion = 3

// schema: positions are dense and start at 1; streams holds each stream's
// version and the position of its last event (derivable from events, kept
// for O(1) expectation checks, and since schema 3 what keeps a stream's
// versions unique, see eventsSchema); terms holds the term trail
// (terms.go); meta holds the applied Raft index and term.
const schema = eventsSchema + streamsSchema + termsSchema + `
CREATE TABLE meta (
	key   TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('applied_index', 0), ('applied_term', 0);
`

// eventsSchema holds the events. The columns codec.go packs are declared
// BLOB, the one type affinity under which SQLite keeps every value as it
// was bound (TEXT stays TEXT, BLOB stays BLOB); time is INTEGER, which
// keeps the RFC 3339 text of a time packTime could not turn into
// nanoseconds as text.
//
// No index on (stream, version): until schema 3 a UNIQUE constraint kept
// one, which cost a third of an append's CPU (BenchmarkEventStoreCreates:
// the streams of a create's two events, a new appointment's and its
// owner's agenda, land on pages all over that index, written again at
// every commit) and served no read but ReadStream's, for tests and tools,
// which now scans. What it guarded, that a stream never has two events of
// one version, is checked before anything is written, on every path that
// adds events: a batch writes a stream only with an expected version, its
// events number on from it without a gap (events.Batch.Validate), and
// Tx.Append refuses an expected version that is not the stream's current
// one (the streams table, which must hold each stream's last event:
// lookupStreams fails otherwise); Restore checks that a snapshot's events
// number each stream on from its stored version (insertRestored); the
// migrations copy tables that had the constraint, and a backup's restore
// (PrepareRestore) a file written through these checks. Events are read by
// position, and a stream's state by the streams table.
const eventsSchema = eventsTable + noReplaceTrigger

// eventsTable is the events table and the triggers that refuse UPDATE and
// DELETE.
const eventsTable = `
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
	data           BLOB    NOT NULL
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
`

// noReplaceTrigger refuses an INSERT OR REPLACE, which deletes the row it
// replaces without firing delete triggers: the rows it could replace are
// those of the same position or ID.
const noReplaceTrigger = `
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE position = NEW.position)
	OR EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
`

// streamsSchema holds each stream's version and the position of its last
// event.
const streamsSchema = `
CREATE TABLE streams (
	stream   BLOB    PRIMARY KEY,
	version  INTEGER NOT NULL,
	position INTEGER NOT NULL
) WITHOUT ROWID;
`
