package eventstore

import (
	"context"
	"errors"
	"fmt"
	"os"
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
// The store never calls fsync (sqlite.Unsynced): a process crash loses
// nothing, the kernel holds every write. Every event in it is also in the
// node's Raft snapshot and log, which are fsynced before any write is
// acknowledged, and consensus rebuilds the store from them: it re-applies
// the log after what the store recorded, and first restores the latest
// snapshot into a store behind it (an empty one included). So after a crash
// of the machine, which may leave a file written without fsync damaged,
// Open fails with ErrUnsyncedAtCrash and the caller, if the Raft directory
// holds the history (consensus.HoldsHistory), discards the store (Discard)
// and opens an empty one. Where the store may hold history no Raft entry
// does (a restored store not yet compacted into a snapshot, one beside a
// lost log), and for commands that only read it, open it Synced. The
// caller holds the data dir (sqlite.Owner).
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	durability := sqlite.Unsynced
	if o.synced {
		durability = sqlite.Normal
	}
	// It appends: the ends of its indexes and the streams it checks are
	// what it keeps hot. Its caller holds the data dir (sqlite.Owner).
	db, err := sqlite.Open(path, durability, sqlite.WriterCache(8), sqlite.Owner())
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

// ErrUnsyncedAtCrash means the machine stopped while the store was written
// without fsync: the file may be damaged (see Open).
var ErrUnsyncedAtCrash = sqlite.ErrUnsyncedAtCrash

// Option adjusts Open.
type Option func(*options)

type options struct{ synced bool }

// Synced opens the store with its checkpoints fsynced (SQLite
// synchronous=NORMAL), for a store whose history is in no Raft entry: a
// crash of the machine may then lose the last transactions, never the file.
func Synced() Option { return func(o *options) { o.synced = true } }

// Discard puts the store at path aside, as path+".discarded" (with its WAL
// as path+".discarded-wal"), in place of any store discarded before, and
// removes the other files SQLite and Open keep beside it. The copy is for
// an operator: the machine stopped under it, so it may be damaged, but it
// is what the node held. The snapshot cache stays: it checks itself
// against the store it serves (snapcache.go).
func Discard(path string) error {
	aside := path + ".discarded"
	if _, err := os.Stat(path); err == nil {
		// A new pair replaces the old one whole; a discard interrupted
		// after the file went aside finds no file here and keeps both.
		for _, f := range [][2]string{{path + "-wal", aside + "-wal"}, {path, aside}} {
			if err := os.Remove(f[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("discard %s: %w", path, err)
			}
			if err := os.Rename(f[0], f[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("discard %s: %w", path, err)
			}
		}
	}
	return sqlite.RemoveFiles(path)
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
