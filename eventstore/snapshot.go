package eventstore

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/klauspost/compress/gzip"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/sqlite"
)

// snapshotFormat versions the snapshot encoding below.
const snapshotFormat = 1

// snapshotHeader is the first line of a snapshot.
type snapshotHeader struct {
	Format       int    `json:"format"`
	AppliedIndex uint64 `json:"applied_index"`
	AppliedTerm  uint64 `json:"applied_term"`
	Head         int64  `json:"head"`
	// Lineage is the store's (lineage.go); older builds neither write nor
	// read it (0).
	Lineage int64 `json:"lineage,omitempty"`
}

// Snapshot is a consistent, point-in-time view of the store, pinned by an
// open read transaction (WAL lets the writer go on meanwhile). Release it
// when done.
type Snapshot struct {
	tx     *sql.Tx
	header snapshotHeader
	cache  *snapshotCache
}

// Snapshot pins the current state of the store.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	tx, err := s.db.Read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot: %w", err)
	}
	h := snapshotHeader{Format: snapshotFormat}
	// The first read fixes the transaction's view of the database.
	err = tx.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'applied_index'),
		(SELECT value FROM meta WHERE key = 'applied_term'),
		(SELECT COALESCE(MAX(position), 0) FROM events),
		`+selectLineage).Scan(&h.AppliedIndex, &h.AppliedTerm, &h.Head, &h.Lineage)
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("read snapshot header: %w", err)
	}
	return &Snapshot{tx: tx, header: h, cache: s.cache}, nil
}

// AppliedIndex is the Raft index the snapshot reflects.
func (sn *Snapshot) AppliedIndex() uint64 { return sn.header.AppliedIndex }

// WriteTo writes the snapshot as gzip-compressed JSON lines: a header, then
// every event in position order.
//
// The header is a gzip member of its own, and the events the store's
// snapshot cache holds (snapcache.go) are copied from it as they were
// compressed the last time; only the events since are encoded, into one
// more member, which then extends the cache. Without a usable cache (the
// first snapshot, or one after any doubt about the cache) every event is
// encoded, and the cache is written anew. Encoding every event of a
// million (the rebuild benchmarks' store) took 6.9–7.3 CPU-s with
// encoding/json and gzip's default level, 4.4–4.8 s with the encoder that
// is to become encoding/json/v2 and gzip's fastest level, for the same
// lines (checked byte for byte; raw strings are kept as escaped, see
// TestSnapshotPreservesDataBytes) in 43 MB of gzip instead of 30. Invalid
// UTF-8, which no event holds, passes as it is rather than failing the
// snapshot; Restore's decoder reads it as encoding/json always has.
func (sn *Snapshot) WriteTo(w io.Writer) (n int64, err error) {
	cw := &countingWriter{w: w}
	header := func(line func(any) error) error { return line(sn.header) }
	if err := writeMember(cw, header); err != nil {
		return cw.n, err
	}
	head := sn.header.Head
	var after int64
	var ext *extension
	if c := sn.cache; c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		var base cacheMeta
		if m, ok := c.load(); ok && sn.extends(m) {
			// From here on a failure may be the cache's fault: drop it,
			// so that the next snapshot does not trust it again.
			defer func() {
				if err != nil {
					c.forget()
				}
			}()
			if err := c.copyTo(cw, m); err != nil {
				return cw.n, fmt.Errorf("copy cached snapshot: %w", err)
			}
			after, base = m.UpTo, m
		} else {
			c.forget()
		}
		if head > after {
			ext = c.extend(base)
		}
	}
	if head == after {
		return cw.n, nil
	}
	var out io.Writer = cw
	if ext != nil {
		out = io.MultiWriter(cw, ext)
	}
	var last events.Envelope
	err = writeMember(out, func(line func(any) error) error {
		var err error
		last, err = sn.writeEvents(line, after)
		return err
	})
	if ext != nil {
		if err != nil {
			ext.abandon()
		} else {
			ext.commit(head, last)
		}
	}
	return cw.n, err
}

// extends reports whether the cache m holds the beginning of this
// snapshot's history, as this build writes it: its last event is in the
// snapshot, under the same ID, and encodes to the same line.
func (sn *Snapshot) extends(m cacheMeta) bool {
	if m.UpTo > sn.header.Head {
		return false
	}
	e, err := scanEvent(sn.tx.QueryRow(selectEvents+" WHERE position = ?", m.UpTo))
	if err != nil || e.ID != m.LastID {
		return false
	}
	crc, err := lineCRC(&e)
	return err == nil && crc == m.LastLine
}

// encodeLine writes v as one line of a snapshot, newline excluded.
func encodeLine(w io.Writer, v any) error {
	return jsonv2.MarshalWrite(w, v, jsontext.AllowInvalidUTF8(true), jsontext.PreserveRawStrings(true))
}

// writeMember writes one gzip member to w holding the lines body writes.
// klauspost/compress's gzip writes the standard format (any gzip reader,
// the standard library's included, reads it) in less CPU than
// compress/gzip at the same level: BenchmarkSnapshot with 200,000 events,
// two interleaved runs of each, 1,388–1,495 → 1,033–1,080 CPU-ms a full
// snapshot and 131–146 → 100–107 an incremental one, 6 % smaller.
func writeMember(w io.Writer, body func(line func(any) error) error) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(zw, 1<<16)
	line := func(v any) error {
		if err := encodeLine(bw, v); err != nil {
			return err
		}
		return bw.WriteByte('\n')
	}
	if err := body(line); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// writeEvents writes a line for every event after position after, up to
// the snapshot's head, and returns the last one.
func (sn *Snapshot) writeEvents(line func(any) error, after int64) (events.Envelope, error) {
	var last events.Envelope
	rows, err := sn.tx.Query(selectEvents+" WHERE position > ? AND position <= ? ORDER BY position", after, sn.header.Head)
	if err != nil {
		return last, fmt.Errorf("read events for snapshot: %w", err)
	}
	defer rows.Close()
	want := after + 1
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return last, err
		}
		if e.Position != want {
			return last, fmt.Errorf("snapshot: position %d where %d was expected", e.Position, want)
		}
		want++
		if err := line(&e); err != nil {
			return last, err
		}
		last = e
	}
	if err := rows.Err(); err != nil {
		return last, fmt.Errorf("read events for snapshot: %w", err)
	}
	if want != sn.header.Head+1 {
		return last, fmt.Errorf("snapshot: events end at %d, head is %d", want-1, sn.header.Head)
	}
	return last, nil
}

// Release ends the snapshot's read transaction.
func (sn *Snapshot) Release() { sn.tx.Rollback() }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Restore brings the store to the state of a snapshot written by WriteTo.
//
// Committed history never changes, so the store is always a prefix of any
// later snapshot: Restore checks that the events it already holds agree with
// the snapshot (the event at its head has the same ID) and appends the rest.
// The store therefore stays append-only, and read models built from it stay
// valid. A disagreement means the replica's history diverged: Restore fails
// (ErrDiverged, or ErrForeignLineage) and leaves the store untouched.
//
// A store already at or past the snapshot is left as it is. Restore is for
// the node's own snapshots (a recover); a leader's goes to Install, and
// raft's latest at a start to CatchUp.
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	return s.restore(ctx, r, fromSelf)
}

// Install is Restore for a snapshot the leader sent: it is the leader's
// word on what the cluster committed, so a store it leaves ahead of it is
// marked unproven (see Unproven) until the leader's entries show the
// store's last one, and one whose last entry is the store's proves it.
func (s *Store) Install(ctx context.Context, r io.Reader) error {
	return s.restore(ctx, r, fromLeader)
}

// CatchUp is Restore for raft's latest snapshot at a node's start, which
// may be a leader's that raft kept before the node could hand it to the
// state machine, or the node's own: it marks a store it leaves ahead, as
// Install does, but proves nothing, since the node's own snapshot at the
// store's last entry says nothing of the cluster's history (a fault review
// saw a restart clear the mark that way, and the node serve the other
// history).
func (s *Store) CatchUp(ctx context.Context, r io.Reader) error {
	return s.restore(ctx, r, fromDisk)
}

// snapshotFrom says whose snapshot a restore takes in, which decides what
// it proves of the store.
type snapshotFrom int

const (
	fromSelf   snapshotFrom = iota // the node's own: proves and marks nothing
	fromDisk                       // raft's latest at a start: marks, never proves
	fromLeader                     // the leader's: marks, and proves
)

func (s *Store) restore(ctx context.Context, r io.Reader, from snapshotFrom) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("open snapshot: %w", err)
	}
	defer zr.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(zr, 1<<16))
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("read snapshot header: %w", err)
	}
	if h.Format != snapshotFormat {
		return fmt.Errorf("snapshot format %d, this build reads %d", h.Format, snapshotFormat)
	}

	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	applied := tx.Applied()
	var lineage int64
	if err := tx.tx.QueryRowContext(ctx, "SELECT "+selectLineage).Scan(&lineage); err != nil {
		return fmt.Errorf("read lineage: %w", err)
	}
	if h.Lineage != lineage && h.Lineage != 0 {
		// An empty store joins the snapshot's lineage; one with history
		// counts its applied index in another Raft log (lineage.go). A
		// snapshot without one may come from an older build, which wrote
		// none: it is checked as before, event by event.
		if tx.head > 0 || applied > 0 {
			return fmt.Errorf("%w: the snapshot is of lineage %d, this store of %d (one of them descends from a restore the other does not)", ErrForeignLineage, h.Lineage, lineage)
		}
		if _, err := tx.tx.ExecContext(ctx, upsertLineage, h.Lineage); err != nil {
			return fmt.Errorf("record lineage: %w", err)
		}
	}
	if h.AppliedIndex <= applied {
		// Nothing new: the store is already at or past the snapshot.
		if err := tx.keepAhead(h, from); err != nil {
			return err
		}
		return tx.Commit()
	}
	var ourHeadID string
	if tx.head > 0 {
		var stored any
		err := tx.tx.QueryRowContext(ctx, "SELECT id FROM events WHERE position = ?", tx.head).Scan(&stored)
		if err == nil {
			ourHeadID, err = unpackID(stored)
		}
		if err != nil {
			return fmt.Errorf("read head event: %w", err)
		}
	}
	if h.Head < tx.head {
		return fmt.Errorf("snapshot ends at position %d, before this store's head %d: %w", h.Head, tx.head, ErrDiverged)
	}
	matched := tx.head == 0
	var want int64 = 1
	// Events go in in runs of maxVars: one statement each.
	pending := make([]events.Envelope, 0, maxVars)
	for {
		var e events.Envelope
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("read snapshot event: %w", err)
		}
		// Positions must run 1, 2, 3… with no gap.
		if e.Position != want {
			return fmt.Errorf("snapshot has position %d where %d was expected", e.Position, want)
		}
		want++
		switch {
		case e.Position < tx.head:
			continue
		case e.Position == tx.head:
			if e.ID != ourHeadID {
				return fmt.Errorf("event at position %d is %s here and %s in the snapshot: %w", e.Position, ourHeadID, e.ID, ErrDiverged)
			}
			matched = true
			continue
		}
		if !matched {
			return fmt.Errorf("snapshot never showed this store's head event %d: %w", tx.head, ErrDiverged)
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("snapshot event %d: %w", e.Position, err)
		}
		pending = append(pending, e)
		if len(pending) == maxVars {
			if err := tx.insertRestored(pending); err != nil {
				return err
			}
			pending = pending[:0]
		}
	}
	if err := tx.insertRestored(pending); err != nil {
		return err
	}
	if !matched {
		return fmt.Errorf("snapshot never showed this store's head event %d: %w", tx.head, ErrDiverged)
	}
	if tx.head != h.Head {
		return fmt.Errorf("snapshot truncated: header says head %d, events end at %d", h.Head, tx.head)
	}
	if err := tx.SetApplied(h.AppliedIndex, h.AppliedTerm); err != nil {
		return err
	}
	if err := resetTerms(ctx, tx.tx, h.AppliedIndex, h.AppliedTerm); err != nil {
		return err
	}
	if from == fromLeader {
		// The store now holds the leader's history up to the snapshot.
		if err := tx.SetProven(); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// keepAhead checks a snapshot that applied no more than the store did:
// its last entry must be the one the store applied at that index
// (ErrDiverged otherwise). One that applied less, from the leader or found
// at a start, leaves the store's last entries unproven until the leader's
// entries show them; the leader's at the store's last entry proves it.
func (t *Tx) keepAhead(h snapshotHeader, from snapshotFrom) error {
	terms, err := t.Terms()
	if err != nil {
		return err
	}
	if want, ok := terms.At(h.AppliedIndex); ok && h.AppliedTerm != 0 && h.AppliedTerm != want {
		return fmt.Errorf("the snapshot applied entry %d of term %d, where this store's history is at term %d: %w", h.AppliedIndex, h.AppliedTerm, want, ErrDiverged)
	}
	switch {
	case from == fromSelf:
		return nil
	case h.AppliedIndex < t.applied:
		return t.setUnproven()
	case from == fromLeader:
		return t.SetProven()
	}
	return nil
}

// insertRestored inserts es, events of a snapshot being restored, after
// checking that they number each stream's events on from its stored
// version, without a gap or a repeat. The state machine ensured as much
// when it first appended them, but a snapshot comes from another node, and
// no index on (stream, version) would refuse a repeat (see eventsSchema):
// a broken one must fail here, not leave a stream with two events of one
// version. The streams are looked up one chunk at a time (one statement),
// so that a restore of 10⁶ streams does not hold them all in memory.
func (t *Tx) insertRestored(es []events.Envelope) error {
	if len(es) == 0 {
		return nil
	}
	streams := make([]string, 0, len(es))
	seen := make(map[string]bool, len(es))
	for i := range es {
		if !seen[es[i].Stream] {
			seen[es[i].Stream] = true
			streams = append(streams, es[i].Stream)
		}
	}
	clear(t.streams)
	defer clear(t.streams)
	if err := t.lookupStreams(streams); err != nil {
		return err
	}
	for i := range es {
		e := &es[i]
		st := t.streams[e.Stream]
		if e.Version != st.version+1 {
			return fmt.Errorf("snapshot event %d (%s) is version %d of %s, which is at version %d: histories diverged, or the snapshot is broken",
				e.Position, e.ID, e.Version, e.Stream, st.version)
		}
		st.version = e.Version
		t.streams[e.Stream] = st
	}
	return t.insert(es)
}

// insert appends es at the next positions without the checks of Append:
// its caller vouches that they are committed history. It takes one
// statement for the events and one for the streams' new versions (per
// maxVars events). A failure marks the transaction failed.
func (t *Tx) insert(es []events.Envelope) error {
	if t.failed != nil {
		return t.failed
	}
	if err := t.insertRows(es); err != nil {
		t.failed = err
		return err
	}
	return nil
}

func (t *Tx) insertRows(es []events.Envelope) error {
	// Runs of a power-of-two length: see sqlite.Runs.
	for _, n := range sqlite.Runs(len(es), maxVars) {
		chunk := es[:n]
		es = es[n:]
		args := make([]any, 0, 11*len(chunk))
		// Each stream's last event in the chunk gives its new version.
		last := make(map[string]int, 2)
		order := make([]string, 0, 2)
		for i := range chunk {
			e := &chunk[i]
			pos := t.head + 1 + int64(i)
			data, err := encodeData(e.Data)
			if err != nil {
				return err
			}
			args = append(args, pos, packID(e.ID), packID(e.Stream), e.Version, e.Type, e.SchemaVersion,
				packTime(e.Time), e.OriginNode, packID(e.Actor), packID(e.CorrelationID), data)
			if _, ok := last[e.Stream]; !ok {
				order = append(order, e.Stream)
			}
			last[e.Stream] = i
		}
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO events (position, id, stream, version, type,
			schema_version, time, origin_node, actor, correlation_id, data)
			VALUES `+sqlite.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ", ", len(chunk)), args...); err != nil {
			return fmt.Errorf("append events %s… to %s: %w", chunk[0].ID, chunk[0].Stream, err)
		}
		for _, m := range sqlite.Runs(len(order), maxVars) {
			sargs := make([]any, 0, 3*m)
			for _, stream := range order[:m] {
				i := last[stream]
				sargs = append(sargs, packID(stream), chunk[i].Version, t.head+1+int64(i))
			}
			order = order[m:]
			if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO streams (stream, version, position) VALUES `+
				sqlite.Repeat("(?, ?, ?)", ", ", m)+`
				ON CONFLICT (stream) DO UPDATE SET version = excluded.version, position = excluded.position`, sargs...); err != nil {
				return fmt.Errorf("advance streams: %w", err)
			}
		}
		for i := range chunk {
			e := chunk[i]
			e.Position = t.head + 1 + int64(i)
			e.Time = e.Time.UTC()
			t.committed = append(t.committed, e)
		}
		if len(t.committed) > 2*tailSize {
			t.committed = append(t.committed[:0], t.committed[len(t.committed)-tailSize:]...)
		}
		t.head += int64(len(chunk))
	}
	return nil
}
