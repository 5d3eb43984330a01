package eventstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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
}

// Open opens or creates the event store at path.
//
// The store commits without fsync (SQLite synchronous=NORMAL in WAL mode): a
// process crash loses nothing, and what a power loss could take (the tail of
// the WAL) is still in the Raft log, which is fsynced before any write is
// acknowledged. On start, consensus re-applies that tail, or restores the
// latest snapshot if the store fell behind it, so the fsync here would buy
// nothing but latency.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sqlite.Open(path, sqlite.Normal)
	if err != nil {
		return nil, err
	}
	if _, err := db.Init(ctx, schemaVersion, schema); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, changed: make(chan struct{})}
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

func (s *Store) advance(head int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
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

const selectEvents = `SELECT position, id, stream, version, type, schema_version, time,
	origin_node, actor, correlation_id, data FROM events`

// Read returns up to limit events with position > after, in order.
func (s *Store) Read(ctx context.Context, after int64, limit int) ([]events.Envelope, error) {
	if limit <= 0 {
		return nil, nil
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
	if limit <= 0 || upTo <= after || len(types) == 0 {
		return nil, after, nil
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
		return nil, after, fmt.Errorf("read events after %d: %w", after, err)
	}
	defer rows.Close()
	var out []events.Envelope
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, after, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, after, fmt.Errorf("read events after %d: %w", after, err)
	}
	if len(out) == limit {
		return out, out[len(out)-1].Position, nil
	}
	return out, upTo, nil
}

// ReadStream returns the events of one stream in version order.
func (s *Store) ReadStream(ctx context.Context, stream string) ([]events.Envelope, error) {
	rows, err := s.db.Read.QueryContext(ctx, selectEvents+" WHERE stream = ? ORDER BY version", stream)
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

func scanEvent(r scanner) (events.Envelope, error) {
	var e events.Envelope
	var ts string
	var data []byte
	if err := r.Scan(&e.Position, &e.ID, &e.Stream, &e.Version, &e.Type, &e.SchemaVersion, &ts,
		&e.OriginNode, &e.Actor, &e.CorrelationID, &data); err != nil {
		return e, fmt.Errorf("scan event: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return e, fmt.Errorf("event %d: bad time %q: %w", e.Position, ts, err)
	}
	e.Time = t
	e.Data = data
	return e, nil
}

// Begin starts a write transaction for applying committed entries.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin apply: %w", err)
	}
	var head int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(position), 0) FROM events").Scan(&head); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("read head: %w", err)
	}
	return &Tx{store: s, tx: tx, ctx: ctx, head: head}, nil
}

// Tx is an apply transaction. Batches appended through it become visible
// (and Head advances) only on Commit.
type Tx struct {
	store *Store
	tx    *sql.Tx
	ctx   context.Context
	head  int64
	sp    int
}

// Append checks b against the log and appends its events, assigning global
// positions. A batch that fails a check leaves no trace in the transaction:
// it returns *events.VersionConflictError, *events.DuplicateEventError or a
// wrapped events.ErrMalformed. Any other error is a storage failure.
func (t *Tx) Append(b events.Batch) (events.Committed, error) {
	if err := b.Validate(); err != nil {
		return events.Committed{}, err
	}
	// Duplicates first: an exact retry of a committed batch must be
	// recognised as such, not reported as a version conflict.
	for i := range b.Events {
		var pos int64
		err := t.tx.QueryRowContext(t.ctx, "SELECT position FROM events WHERE id = ?", b.Events[i].ID).Scan(&pos)
		if err == nil {
			return events.Committed{}, &events.DuplicateEventError{EventID: b.Events[i].ID, Position: pos}
		} else if !errors.Is(err, sql.ErrNoRows) {
			return events.Committed{}, fmt.Errorf("check event id: %w", err)
		}
	}

	lastType := make(map[string]string, len(b.Expect))
	for _, x := range b.Expect {
		v, pos, typ, err := t.streamState(x.Stream)
		if err != nil {
			return events.Committed{}, err
		}
		if v != x.Version {
			return events.Committed{}, &events.VersionConflictError{Stream: x.Stream, Expected: x.Version, Actual: v, Position: pos}
		}
		lastType[x.Stream] = typ
	}
	// A batch decided on another history (a node that lost its log) can
	// meet the versions it expects on streams that moved on differently.
	// It must not commit an event that cannot follow, which would stop
	// every replica's projections.
	if err := b.CheckLifecycle(lastType); err != nil {
		return events.Committed{}, err
	}
	// The checks above passed, so the inserts below can only fail on a
	// storage error; the savepoint still keeps a failed batch from leaving
	// half its events behind.
	t.sp++
	sp := fmt.Sprintf("batch%d", t.sp)
	if _, err := t.tx.ExecContext(t.ctx, "SAVEPOINT "+sp); err != nil {
		return events.Committed{}, fmt.Errorf("savepoint: %w", err)
	}
	c := events.Committed{FirstPosition: t.head + 1}
	for i := range b.Events {
		if err := t.insert(&b.Events[i]); err != nil {
			t.tx.ExecContext(t.ctx, "ROLLBACK TO "+sp)
			t.tx.ExecContext(t.ctx, "RELEASE "+sp)
			t.head = c.FirstPosition - 1
			return events.Committed{}, err
		}
	}
	if _, err := t.tx.ExecContext(t.ctx, "RELEASE "+sp); err != nil {
		return events.Committed{}, fmt.Errorf("release savepoint: %w", err)
	}
	c.LastPosition = t.head
	return c, nil
}

// streamState returns a stream's version, the position of its last event
// and that event's type (zeros and "" for a stream that does not exist).
func (t *Tx) streamState(stream string) (version, position int64, lastType string, err error) {
	err = t.tx.QueryRowContext(t.ctx, `SELECT s.version, s.position, e.type FROM streams s
		JOIN events e ON e.position = s.position WHERE s.stream = ?`, stream).Scan(&version, &position, &lastType)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, "", nil
	} else if err != nil {
		return 0, 0, "", fmt.Errorf("read state of %s: %w", stream, err)
	}
	return version, position, lastType, nil
}

// Applied returns the Raft index and term recorded in this transaction.
func (t *Tx) Applied() (index uint64, err error) {
	var v int64
	if err := t.tx.QueryRowContext(t.ctx, "SELECT value FROM meta WHERE key = 'applied_index'").Scan(&v); err != nil {
		return 0, fmt.Errorf("read applied index: %w", err)
	}
	return uint64(v), nil
}

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
	if _, err := t.tx.ExecContext(t.ctx, "UPDATE meta SET value = ? WHERE key = 'applied_index'", int64(index)); err != nil {
		return fmt.Errorf("record applied index: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, "UPDATE meta SET value = ? WHERE key = 'applied_term'", int64(term)); err != nil {
		return fmt.Errorf("record applied term: %w", err)
	}
	return nil
}

// Commit commits the transaction and wakes readers waiting for new events.
func (t *Tx) Commit() error {
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("commit apply: %w", err)
	}
	t.store.advance(t.head)
	return nil
}

// Rollback abandons the transaction.
func (t *Tx) Rollback() error { return t.tx.Rollback() }
