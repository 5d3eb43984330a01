package eventstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/sqlite"
)

// Store is the event store. It is safe for concurrent use; writes are
// serialised by the single writer connection (and in practice come only from
// the Raft state machine).
type Store struct {
	db *sqlite.DB

	mu      sync.Mutex
	head    int64
	changed chan struct{} // closed and replaced whenever head advances
	// tail holds the most recently committed events (positions
	// tail[0].Position to head, without gaps), as they were stored: Read
	// and ReadTypes serve a range it covers without a query, which is
	// where projectors read the events the FSM has just applied.
	tail []events.Envelope
	// tailEvents holds, index for index, tail's events as the FSM decoded
	// them before appending them (nil where it did not hand them over):
	// ReadTypesDecoded passes them on, so that a projector does not decode
	// again what was decoded a moment before.
	tailEvents []events.Event

	// cache holds what the last snapshot compressed (snapcache.go).
	cache *snapshotCache
}

// tailSize is how many events the tail keeps at least (and at most twice
// as many): enough for projectors that follow the head a few Raft batches
// behind.
const tailSize = 2048

// Open opens or creates the event store at path.
//
// The store commits without fsync (SQLite synchronous=NORMAL in WAL mode): a
// process crash loses nothing, and what a power loss could take (the tail of
// the WAL) is still in the Raft log, which is fsynced before any write is
// acknowledged. On start, consensus re-applies that tail, or restores the
// latest snapshot if the store fell behind it, so the fsync here would buy
// nothing but latency.
func Open(ctx context.Context, path string) (*Store, error) {
	// It appends: the ends of its indexes and the streams it checks are
	// what it keeps hot.
	db, err := sqlite.Open(path, sqlite.Normal, sqlite.WriterCache(8))
	if err != nil {
		return nil, err
	}
	if err := upgrade(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, changed: make(chan struct{}), cache: newSnapshotCache(path)}
	if err := db.Read.QueryRowContext(ctx, "SELECT COALESCE(MAX(position), 0) FROM events").Scan(&s.head); err != nil {
		db.Close()
		return nil, fmt.Errorf("read head: %w", err)
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Head returns the position of the last committed event (0 if none).
func (s *Store) Head() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
}

// Watch returns the current head and a channel closed when it next advances.
func (s *Store) Watch() (int64, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head, s.changed
}

// WaitFor blocks until the head reaches position or ctx ends.
func (s *Store) WaitFor(ctx context.Context, position int64) error {
	for {
		head, ch := s.Watch()
		if head >= position {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// commit records events just committed (contiguous, in position order) in
// the tail and advances the head past them.
// decoded holds the decoded events the FSM handed over, by event ID.
func (s *Store) commit(head int64, committed []events.Envelope, decoded map[string]events.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(committed) > 0 {
		if len(committed) > tailSize {
			// The commit alone fills the tail: only its newest events
			// are kept, and what the tail held before no longer follows
			// on from them.
			committed = committed[len(committed)-tailSize:]
			s.tail, s.tailEvents = s.tail[:0], s.tailEvents[:0]
		}
		if n := len(s.tail); n > 0 && s.tail[n-1].Position+1 != committed[0].Position {
			s.tail, s.tailEvents = s.tail[:0], s.tailEvents[:0]
		}
		if len(s.tail)+len(committed) > 2*tailSize {
			// Slide the window: drop the oldest, keeping tailSize,
			// reusing the array. The tail holds tailSize to 2×tailSize
			// events, so the copy (of thousands of envelopes) happens once
			// per tailSize events rather than on every commit.
			drop := len(s.tail) + len(committed) - tailSize
			s.tail = append(s.tail[:0], s.tail[drop:]...)
			n := copy(s.tailEvents, s.tailEvents[drop:])
			clear(s.tailEvents[n:])
			s.tailEvents = s.tailEvents[:n]
		}
		s.tail = append(s.tail, committed...)
		for i := range committed {
			s.tailEvents = append(s.tailEvents, decoded[committed[i].ID])
		}
	}
	if head > s.head {
		s.head = head
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// Applied returns the last Raft index and term applied to the store.
func (s *Store) Applied(ctx context.Context) (index, term uint64, err error) {
	rows, err := s.db.Read.QueryContext(ctx, "SELECT key, value FROM meta WHERE key IN ('applied_index', 'applied_term')")
	if err != nil {
		return 0, 0, fmt.Errorf("read applied index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return 0, 0, err
		}
		if k == "applied_index" {
			index = uint64(v)
		} else {
			term = uint64(v)
		}
	}
	return index, term, rows.Err()
}

// eventColumns are the columns scanEvent reads, in order.
const eventColumns = `position, id, stream, version, type, schema_version, time,
	origin_node, actor, correlation_id, data`

const selectEvents = "SELECT " + eventColumns + " FROM events"

// Read returns up to limit events with position > after, in order.
func (s *Store) Read(ctx context.Context, after int64, limit int) ([]events.Envelope, error) {
	if limit <= 0 {
		return nil, nil
	}
	if out, _, ok := s.readTail(after, s.Head(), limit, nil, false); ok {
		if out == nil {
			out = []events.Envelope{}
		}
		return out, nil
	}
	rows, err := s.db.Read.QueryContext(ctx, selectEvents+" WHERE position > ? ORDER BY position LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	defer rows.Close()
	out := make([]events.Envelope, 0, max(0, min(limit, 1024)))
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	return out, nil
}

// ReadTypes returns, in order, up to limit events whose type is one of types
// and whose position is in (after, upTo], and the position up to which the
// log was examined: the last event returned if the limit was reached, upTo
// otherwise. Filtering in SQLite spares a projection decoding the events it
// does not care about.
func (s *Store) ReadTypes(ctx context.Context, after, upTo int64, limit int, types []string) ([]events.Envelope, int64, error) {
	out, _, to, err := s.readTypes(ctx, after, upTo, limit, types, false)
	return out, to, err
}

// ReadTypesDecoded is ReadTypes, and also returns, index for index, the
// events decoded, where the FSM handed them over with the batch it
// appended (nil elsewhere, and all nil for events read from SQLite): they
// are the events Envelope.Decode would return.
func (s *Store) ReadTypesDecoded(ctx context.Context, after, upTo int64, limit int, types []string) ([]events.Envelope, []events.Event, int64, error) {
	return s.readTypes(ctx, after, upTo, limit, types, true)
}

func (s *Store) readTypes(ctx context.Context, after, upTo int64, limit int, types []string, decoded bool) ([]events.Envelope, []events.Event, int64, error) {
	if limit <= 0 || upTo <= after || len(types) == 0 {
		return nil, nil, after, nil
	}
	if out, evs, ok := s.readTail(after, upTo, limit, types, decoded); ok {
		if len(out) == limit {
			return out, evs, out[len(out)-1].Position, nil
		}
		return out, evs, upTo, nil
	}
	q := selectEvents + " WHERE position > ? AND position <= ? AND type IN (?" + strings.Repeat(", ?", len(types)-1) + ") ORDER BY position LIMIT ?"
	args := make([]any, 0, len(types)+3)
	args = append(args, after, upTo)
	for _, t := range types {
		args = append(args, t)
	}
	args = append(args, limit)
	rows, err := s.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, after, fmt.Errorf("read events after %d: %w", after, err)
	}
	defer rows.Close()
	var out []events.Envelope
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, nil, after, err
		}
		if out == nil {
			// Sized for the whole answer when it may fill the limit: a
			// rebuild reads pages of thousands, and growing the slice step
			// by step was a fifth of its allocated bytes.
			out = make([]events.Envelope, 0, min(int64(limit), upTo-after, maxPrealloc))
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, after, fmt.Errorf("read events after %d: %w", after, err)
	}
	if len(out) == limit {
		return out, nil, out[len(out)-1].Position, nil
	}
	return out, nil, upTo, nil
}

// maxPrealloc bounds the envelopes readTypes makes room for before it
// reads: a caller may ask for a long range and find few of its types.
const maxPrealloc = 8192

// readTail serves from the tail, if it holds every position in (after,
// upTo], up to limit events in that range (of one of types, if any), as
// the query would return them; ok is false if the tail does not cover the
// range. Data is copied: callers own what they read, as with a query. If
// decoded, evs holds the events' decoded values, index for index (events
// are values without references, so they are shared as they are).
func (s *Store) readTail(after, upTo int64, limit int, types []string, decoded bool) (out []events.Envelope, evs []events.Event, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if upTo > s.head {
		return nil, nil, false
	}
	if upTo <= after {
		return nil, nil, true
	}
	if len(s.tail) == 0 || s.tail[0].Position > after+1 {
		return nil, nil, false
	}
	first := s.tail[0].Position
	for i := int(after + 1 - first); i < len(s.tail) && s.tail[i].Position <= upTo && len(out) < limit; i++ {
		e := s.tail[i]
		if types != nil && !slices.Contains(types, e.Type) {
			continue
		}
		e.Data = slices.Clone(e.Data)
		out = append(out, e)
		if decoded {
			evs = append(evs, s.tailEvents[i])
		}
	}
	return out, evs, true
}

// ReadStream returns the events of one stream in version order. It scans
// the whole log (no index serves it, see eventsSchema): for tests and tools.
func (s *Store) ReadStream(ctx context.Context, stream string) ([]events.Envelope, error) {
	rows, err := s.db.Read.QueryContext(ctx, selectEvents+" WHERE stream = ? ORDER BY version", packID(stream))
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	defer rows.Close()
	var out []events.Envelope
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

// scanEvent reads a row of selectEvents, in either schema version's
// encoding (codec.go).
func scanEvent(r scanner) (events.Envelope, error) {
	var e events.Envelope
	var id, stream, ts, actor, corr any
	var data []byte
	if err := r.Scan(&e.Position, &id, &stream, &e.Version, &e.Type, &e.SchemaVersion, &ts,
		&e.OriginNode, &actor, &corr, &data); err != nil {
		return e, fmt.Errorf("scan event: %w", err)
	}
	var err error
	for _, f := range []struct {
		dst *string
		v   any
	}{{&e.ID, id}, {&e.Stream, stream}, {&e.Actor, actor}, {&e.CorrelationID, corr}} {
		if *f.dst, err = unpackID(f.v); err != nil {
			return e, fmt.Errorf("event %d: %w", e.Position, err)
		}
	}
	if e.Time, err = unpackTime(ts); err != nil {
		return e, fmt.Errorf("event %d: bad time %v: %w", e.Position, ts, err)
	}
	if e.Data, err = decodeData(data); err != nil {
		return e, fmt.Errorf("event %d: %w", e.Position, err)
	}
	return e, nil
}

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

// AppliedTerm returns the term of the last Raft entry applied (0 before any).
func (t *Tx) AppliedTerm() (uint64, error) {
	var v int64
	if err := t.tx.QueryRowContext(t.ctx, "SELECT value FROM meta WHERE key = 'applied_term'").Scan(&v); err != nil {
		return 0, fmt.Errorf("read applied term: %w", err)
	}
	return uint64(v), nil
}

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
