// Package audit keeps the audit trail: an audit_logs table in its own SQLite
// file in the data dir, fed through a bounded in-memory queue.
//
// Record never blocks the caller (a request, a Raft observer): it puts the
// entry on a queue that one goroutine drains into SQLite in batches. If the
// queue is full — the disk stalls, or a flood of refusals — the entry is
// dropped and counted (Dropped, and the agenda_audit_dropped_total metric)
// rather than slowing the request path. Close drains the queue, so a clean
// shutdown loses nothing; a crash loses what was still queued (at most
// QueueSize entries, in practice the last 10 ms or so: the writer gathers
// entries for up to 10 ms per commit). The file has
// its own writer, so auditing never contends with the event store or the
// read model.
package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/sqlite"
)

const schemaVersion = 1

const schema = `
CREATE TABLE audit_logs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	at         INTEGER NOT NULL, -- Unix nanoseconds
	node_id    TEXT    NOT NULL,
	actor      TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	target     TEXT    NOT NULL,
	result     TEXT    NOT NULL,
	request_id TEXT    NOT NULL,
	details    TEXT    NOT NULL
);
CREATE INDEX audit_logs_by_at ON audit_logs (at);
CREATE INDEX audit_logs_by_actor ON audit_logs (actor, id);
CREATE INDEX audit_logs_by_action ON audit_logs (action, id);
`

// lingerFor is how long the writer waits for more entries before a commit.
const lingerFor = 10 * time.Millisecond

// Defaults of Options.
const (
	DefaultQueueSize = 16384
	DefaultRetention = 90 * 24 * time.Hour
	DefaultMaxRows   = 1_000_000
)

// Options tune a Log; zero fields take the defaults.
type Options struct {
	// NodeID fills in entries recorded without one.
	NodeID    string
	QueueSize int
	// Retention drops entries older than this; MaxRows keeps at most this
	// many (the newest). Both are applied at open and every PruneEvery,
	// and MaxRows also whenever a tenth of it has been written since the
	// last prune: the table never holds more than 1.1 × MaxRows.
	Retention  time.Duration
	MaxRows    int64
	PruneEvery time.Duration
	Logger     *slog.Logger
}

// Log is an open audit trail.
type Log struct {
	db      *sqlite.DB
	opts    Options
	queue   chan agenda.AuditEntry
	dropped atomic.Uint64
	written atomic.Uint64

	mu     sync.RWMutex // held for reading by Record, for writing by Close
	closed bool
	done   chan struct{}
}

// Open opens (creating if needed) the audit trail at path and starts its
// writer.
func Open(ctx context.Context, path string, opts Options) (*Log, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxRows <= 0 {
		opts.MaxRows = DefaultMaxRows
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := openDB(ctx, path)
	if err != nil {
		return nil, err
	}
	l := &Log{db: db, opts: opts, queue: make(chan agenda.AuditEntry, opts.QueueSize), done: make(chan struct{})}
	l.prune(ctx, time.Now())
	go l.run()
	return l, nil
}

func openDB(ctx context.Context, path string) (*sqlite.DB, error) {
	// NORMAL: a committed entry survives a process crash; a power loss may
	// take the last ones, as it may take what is still queued.
	db, err := sqlite.Open(path, sqlite.Normal, sqlite.WriterCache(2))
	if err != nil {
		return nil, err
	}
	if _, err := db.Init(ctx, schemaVersion, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return db, nil
}

// Record queues an entry without blocking; At defaults to now and NodeID to
// the log's node. A full queue drops the entry and counts it. Its text is
// clipped (agenda.AuditEntry.Clipped) before it is queued.
func (l *Log) Record(e agenda.AuditEntry) {
	if l == nil {
		return
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.NodeID == "" {
		e.NodeID = l.opts.NodeID
	}
	e = e.Clipped()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.queue <- e:
	default:
		if n := l.dropped.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th… drop
			l.opts.Logger.Warn("audit queue full: entries dropped", "dropped_total", n, "action", e.Action)
		}
	}
}

// QueueDepth returns how many entries wait to be written.
func (l *Log) QueueDepth() int { return len(l.queue) }

// Dropped returns how many entries were dropped because the queue was full.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Written returns how many entries have been stored since Open.
func (l *Log) Written() uint64 { return l.written.Load() }

// Close stops taking entries, writes every queued one, and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.queue)
	l.mu.Unlock()
	<-l.done
	return l.db.Close()
}

// run drains the queue in batches: one transaction for whatever has queued
// up, so a burst costs one commit rather than one per entry.
func (l *Log) run() {
	defer close(l.done)
	prune := time.NewTicker(l.opts.PruneEvery)
	defer prune.Stop()
	batch := make([]agenda.AuditEntry, 0, 512)
	// Under a steady load an hour of entries can be many times MaxRows
	// (2,000 commands a second are 7 million): the cap is also applied
	// after every pruneStep entries written.
	pruneStep := max(l.opts.MaxRows/10, 1)
	var sincePrune int64
	for {
		select {
		case e, ok := <-l.queue:
			if !ok {
				return
			}
			batch = append(batch[:0], e)
			// Linger briefly for more: one commit per few milliseconds of
			// entries rather than per entry is most of what auditing costs.
			linger := time.NewTimer(lingerFor)
		drain:
			for len(batch) < cap(batch) {
				select {
				case e, ok := <-l.queue:
					if !ok {
						break drain
					}
					batch = append(batch, e)
				case <-linger.C:
					break drain
				}
			}
			linger.Stop()
			if err := insert(context.Background(), l.db, batch); err != nil {
				l.opts.Logger.Error("audit: write entries", "entries", len(batch), "err", err)
				continue
			}
			l.written.Add(uint64(len(batch)))
			if sincePrune += int64(len(batch)); sincePrune < pruneStep {
				continue
			}
			l.prune(context.Background(), time.Now())
			sincePrune = 0
		case now := <-prune.C:
			l.prune(context.Background(), now)
			sincePrune = 0
		}
	}
}

func insert(ctx context.Context, db *sqlite.DB, es []agenda.AuditEntry) error {
	return db.WithTx(ctx, func(tx *sql.Tx) error {
		for _, e := range es {
			details := []byte("{}")
			if len(e.Details) > 0 {
				b, err := json.Marshal(e.Details)
				if err != nil {
					b, _ = json.Marshal(map[string]string{"unencodable": err.Error()})
				}
				details = b
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO audit_logs (at, node_id, actor, action, target, result, request_id, details)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.At.UnixNano(), e.NodeID, e.Actor, e.Action, e.Target, e.Result, e.RequestID, string(details))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// prune applies the retention: entries older than Retention go, and only
// the newest MaxRows stay. A failure is logged; the next prune tries again.
func (l *Log) prune(ctx context.Context, now time.Time) {
	err := l.db.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM audit_logs WHERE at < ?", now.Add(-l.opts.Retention).UnixNano()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM audit_logs WHERE id <= (SELECT MAX(id) FROM audit_logs) - ?`, l.opts.MaxRows)
		return err
	})
	if err != nil {
		l.opts.Logger.Warn("audit: prune old entries", "err", err)
	}
}

// Query returns the entries matching q, newest first, and the cursor of the
// next page (0 if this is the last). Limit defaults to 100, at most 1000.
func (l *Log) Query(ctx context.Context, q agenda.AuditQuery) ([]agenda.AuditEntry, int64, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	sqlq, args := queryStatement(q, limit)
	rows, err := l.db.Read.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("query audit log: %w", err)
	}
	defer rows.Close()
	out := []agenda.AuditEntry{}
	for rows.Next() {
		var e agenda.AuditEntry
		var at int64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.NodeID, &e.Actor, &e.Action, &e.Target, &e.Result, &e.RequestID, &details); err != nil {
			return nil, 0, err
		}
		e.At = time.Unix(0, at).UTC()
		e.Details = map[string]any{}
		_ = json.Unmarshal([]byte(details), &e.Details)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// sinceScan is how many entries of a since window queryStatement reads, at
// most, to bound its IDs.
const sinceScan = 4096

// queryStatement is Query's statement for q, reading limit+1 entries (the
// last one tells whether there is a next page).
//
// Since also bounds the IDs when its window is narrow. The trail is read
// newest first: a window holding more entries than the limit ends the walk
// early by itself, but one holding fewer walked the whole trail to its
// oldest entry. So when the window holds fewer than sinceScan entries
// (counted in audit_logs_by_at, at most sinceScan read), the least ID among
// them, which bounds them all, starts the ID range; a wider window is not
// scanned for its least ID. Entries are numbered in about the order of
// their times, so the range holds little besides the window.
func queryStatement(q agenda.AuditQuery, limit int) (string, []any) {
	var where []string
	var args []any
	if !q.Since.IsZero() {
		since := q.Since.UnixNano()
		where = append(where, `id >= CASE
			WHEN (SELECT COUNT(*) FROM (SELECT 1 FROM audit_logs INDEXED BY audit_logs_by_at WHERE at >= ? LIMIT `+
			strconv.Itoa(sinceScan)+`)) < `+strconv.Itoa(sinceScan)+`
			THEN (SELECT MIN(id) FROM audit_logs INDEXED BY audit_logs_by_at WHERE at >= ?) ELSE 0 END`, "at >= ?")
		args = append(args, since, since, since)
	}
	if q.Actor != "" {
		// The actor as given, or the account it stands for, as a login
		// folds it: ?actor=Ana finds ana's entries, and still finds one
		// recorded with its capitals (before 2026-12-05, the trail kept a
		// refused login's and registration's name as typed; a refused
		// peer's address is kept as it came).
		if folded := agenda.FoldUsername(q.Actor); folded != q.Actor {
			where, args = append(where, "actor IN (?, ?)"), append(args, q.Actor, folded)
		} else {
			where, args = append(where, "actor = ?"), append(args, q.Actor)
		}
	}
	for _, f := range []struct{ col, v string }{{"action", q.Action}, {"node_id", q.Node}} {
		if f.v != "" {
			where, args = append(where, f.col+" = ?"), append(args, f.v)
		}
	}
	if q.Before > 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	sqlq := "SELECT id, at, node_id, actor, action, target, result, request_id, details FROM audit_logs"
	if len(where) > 0 {
		sqlq += " WHERE " + strings.Join(where, " AND ")
	}
	return sqlq + " ORDER BY id DESC LIMIT ?", append(args, limit+1)
}

// Append writes one entry straight to the audit trail at path, for
// commands that run beside a node in another process (`agenda backup`) or
// on a stopped node's data dir. SQLite serialises it with the node's writer.
func Append(ctx context.Context, path string, e agenda.AuditEntry) error {
	db, err := openDB(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e = e.Clipped()
	return insert(ctx, db, []agenda.AuditEntry{e})
}

// MaxField is the most bytes an entry keeps of each of its text fields
// (agenda.AuditMaxField; see AuditEntry.Clipped).
const MaxField = agenda.AuditMaxField
