package eventstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/sqlite"
)

// Begin starts a write transaction for applying committed entries. It reads
// the head and the applied index in one statement: the FSM begins one
// transaction per Raft batch, and every statement is a cgo round trip.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin apply: %w", err)
	}
	var head, applied int64
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT COALESCE(MAX(position), 0) FROM events),
		(SELECT value FROM meta WHERE key = 'applied_index')`).Scan(&head, &applied); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("read head: %w", err)
	}
	return &Tx{store: s, tx: tx, ctx: ctx, head: head, applied: uint64(applied),
		ids: map[string]int64{}, streams: map[string]streamState{}}, nil
}

// Tx is an apply transaction. Batches appended through it become visible
// (and Head advances) only on Commit.
//
// A Tx does its checks against what it knows in memory: the event IDs and
// stream states it has looked up (Prefetch looks up those of a whole Raft
// batch in two statements) and the ones its own batches wrote. The events
// of accepted batches are inserted together when the transaction commits.
// So a Raft batch of many commands costs a fixed handful of statements,
// not several per command: each statement is a cgo round trip, and they
// dominated the FSM's profile.
type Tx struct {
	store   *Store
	tx      *sql.Tx
	ctx     context.Context
	head    int64
	applied uint64
	// ids maps every event ID the transaction has looked up or written to
	// its position, or to 0 if the log does not hold it.
	ids map[string]int64
	// streams holds the state of every stream the transaction has looked
	// up or written, as the transaction leaves it.
	streams map[string]streamState
	// pending are the accepted events (positions assigned) not inserted yet.
	pending []events.Envelope
	// committed holds the events inserted, for the store's tail, and
	// decoded the decoded events AppendDecoded was handed, by event ID.
	committed []events.Envelope
	decoded   map[string]events.Event
	// failed is the storage error that broke the transaction: an insert
	// failed half way, so the transaction may hold part of a batch and must
	// not commit.
	failed error
}

// Prefetch looks up, in one statement for the event IDs and one for the
// expected streams, what Append needs to check the batches bs. Append
// works without it, but looks up each batch on its own.
func (t *Tx) Prefetch(bs []events.Batch) error {
	if t.failed != nil {
		return t.failed
	}
	var ids, streams []string
	for _, b := range bs {
		for i := range b.Events {
			if _, ok := t.ids[b.Events[i].ID]; !ok {
				ids = append(ids, b.Events[i].ID)
			}
		}
		for _, x := range b.Expect {
			if _, ok := t.streams[x.Stream]; !ok {
				streams = append(streams, x.Stream)
			}
		}
	}
	// A failed look-up may have left what it read so far in t.ids and
	// t.streams, which a later Append would trust: the transaction must
	// not commit.
	err := t.lookupIDs(ids)
	if err == nil {
		err = t.lookupStreams(streams)
	}
	if err != nil {
		t.failed = err
	}
	return err
}

// Append checks b against the log and appends its events, assigning global
// positions. A batch that fails a check leaves no trace in the transaction:
// it returns *events.VersionConflictError, *events.DuplicateEventError or a
// wrapped events.ErrMalformed. Any other error is a storage failure, after
// which the transaction refuses to commit (so a failed batch can never
// leave half its events behind). The events are inserted on Commit, which
// reports a failure to store them.
func (t *Tx) Append(b events.Batch) (events.Committed, error) {
	return t.AppendDecoded(b, nil)
}

// AppendDecoded is Append for a batch whose events the caller has decoded,
// index for index (as Envelope.Decode returns them): the store keeps them
// with the events in its tail, for ReadTypesDecoded.
func (t *Tx) AppendDecoded(b events.Batch, decoded []events.Event) (events.Committed, error) {
	if t.failed != nil {
		return events.Committed{}, t.failed
	}
	if err := b.Validate(); err != nil {
		return events.Committed{}, err
	}
	if err := t.Prefetch([]events.Batch{b}); err != nil {
		return events.Committed{}, err
	}
	// Duplicates first: an exact retry of a committed batch must be
	// recognised as such, not reported as a version conflict.
	for i := range b.Events {
		if pos := t.ids[b.Events[i].ID]; pos != 0 {
			return events.Committed{}, &events.DuplicateEventError{EventID: b.Events[i].ID, Position: pos}
		}
	}
	lastType := make(map[string]string, len(b.Expect))
	for _, x := range b.Expect {
		st := t.streams[x.Stream]
		if st.version != x.Version {
			return events.Committed{}, &events.VersionConflictError{Stream: x.Stream, Expected: x.Version, Actual: st.version, Position: st.position}
		}
		lastType[x.Stream] = st.lastType
	}
	// A batch decided on another history (a node that lost its log) can
	// meet the versions it expects on streams that moved on differently.
	// It must not commit an event that cannot follow, which would stop
	// every replica's projections.
	if err := b.CheckLifecycle(lastType); err != nil {
		return events.Committed{}, err
	}
	c := events.Committed{FirstPosition: t.head + 1}
	for i := range b.Events {
		t.head++
		e := b.Events[i]
		e.Position = t.head
		e.Time = e.Time.UTC()
		t.pending = append(t.pending, e)
		t.ids[e.ID] = e.Position
		t.streams[e.Stream] = streamState{version: e.Version, position: e.Position, lastType: e.Type}
	}
	c.LastPosition = t.head
	if len(decoded) == len(b.Events) {
		if t.decoded == nil {
			t.decoded = make(map[string]events.Event, len(b.Events))
		}
		for i := range b.Events {
			t.decoded[b.Events[i].ID] = decoded[i]
		}
	}
	if len(t.pending) >= maxVars {
		if err := t.flush(); err != nil {
			return events.Committed{}, err
		}
	}
	return c, nil
}

// flush inserts the pending events.
func (t *Tx) flush() error {
	if len(t.pending) == 0 {
		return nil
	}
	head := t.head
	t.head = t.pending[0].Position - 1
	err := t.insert(t.pending)
	t.pending = t.pending[:0]
	if err == nil && t.head != head {
		err = fmt.Errorf("pending events end at %d, not at the head %d", t.head, head)
		t.failed = err
	}
	return err
}

// lookupIDs records in t.ids the position of each of ids the log holds,
// and 0 for the others.
func (t *Tx) lookupIDs(ids []string) error {
	for start := 0; start < len(ids); start += maxVars {
		chunk := ids[start:min(len(ids), start+maxVars)]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = packID(id)
			t.ids[id] = 0
		}
		in, args := sqlite.In(args)
		err := t.query(func(rows *sql.Rows) error {
			var stored any
			var pos int64
			if err := rows.Scan(&stored, &pos); err != nil {
				return err
			}
			id, err := unpackID(stored)
			t.ids[id] = pos
			return err
		}, "SELECT id, position FROM events WHERE id IN "+in, args...)
		if err != nil {
			return fmt.Errorf("check event ids: %w", err)
		}
	}
	return nil
}

// maxVars bounds the rows of one multi-row statement, well below SQLite's
// limit on bound parameters (32766) even at eleven columns a row.
const maxVars = 256

// streamState is a stream's version, the position of its last event and
// that event's type (zeros and "" for a stream that does not exist).
type streamState struct {
	version, position int64
	lastType          string
}

// lookupStreams records in t.streams the state of each of streams.
func (t *Tx) lookupStreams(streams []string) error {
	for start := 0; start < len(streams); start += maxVars {
		chunk := streams[start:min(len(streams), start+maxVars)]
		args := make([]any, len(chunk))
		for i, stream := range chunk {
			args[i] = packID(stream)
			t.streams[stream] = streamState{}
		}
		in, args := sqlite.In(args)
		err := t.query(func(rows *sql.Rows) error {
			var stored any
			var st streamState
			var lastType sql.NullString
			if err := rows.Scan(&stored, &st.version, &st.position, &lastType); err != nil {
				return err
			}
			stream, err := unpackID(stored)
			if err == nil && !lastType.Valid {
				// An inner join would drop the row, and the stream
				// would look new: with no index on (stream, version),
				// the streams table alone keeps its versions unique.
				err = fmt.Errorf("stream %s is at version %d, position %d, which holds no event", stream, st.version, st.position)
			}
			st.lastType = lastType.String
			t.streams[stream] = st
			return err
		}, `SELECT s.stream, s.version, s.position, e.type FROM streams s
			LEFT JOIN events e ON e.position = s.position WHERE s.stream IN `+in, args...)
		if err != nil {
			return fmt.Errorf("read stream states: %w", err)
		}
	}
	return nil
}

// query runs q in the transaction and calls scan for every row.
func (t *Tx) query(scan func(*sql.Rows) error, q string, args ...any) error {
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Applied returns the Raft index recorded in this transaction (read by
// Begin, or set by SetApplied).
func (t *Tx) Applied() uint64 { return t.applied }

// SetApplied records the last Raft index and term applied.
func (t *Tx) SetApplied(index, term uint64) error {
	if _, err := t.tx.ExecContext(t.ctx, `UPDATE meta SET value = CASE key WHEN 'applied_index' THEN ? ELSE ? END
		WHERE key IN ('applied_index', 'applied_term')`, int64(index), int64(term)); err != nil {
		return fmt.Errorf("record applied index: %w", err)
	}
	t.applied = index
	return nil
}

// Commit inserts the pending events, commits the transaction and wakes
// readers waiting for new events.
func (t *Tx) Commit() error {
	if err := t.flush(); err != nil {
		return fmt.Errorf("commit apply: %w", err)
	}
	if t.failed != nil {
		return fmt.Errorf("commit apply: %w", t.failed)
	}
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("commit apply: %w", err)
	}
	t.store.commit(t.head, t.committed, t.decoded)
	return nil
}

// Rollback abandons the transaction.
func (t *Tx) Rollback() error { return t.tx.Rollback() }
