package readmodel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/agendahq/agenda/internal/sqlite"
)

// sideTables are the tables a projection writes and never reads while it
// projects: the feed and the notifications (queries read them; the
// projection only inserts rows and marks notifications read, one by ID or
// all of a user's up to a position). A
// scratch read model writes them into a file of its own, on a goroutine of
// its own (side), and copies them in at the end (joinSide).
//
// Why: a rebuild is bound by the one goroutine that applies events to the
// scratch file — SQLite has one writer per file — while the machine's
// other core reads and decodes the log and has time to spare. The feed and
// notification rows were about a quarter of that goroutine's work
// (BenchmarkRebuildOffline1M). Since nothing the projection reads depends
// on them, writing them elsewhere cannot change what it decides; their
// statements run in the order the projection issued them, so an update of
// a notification follows its insert as before.
var sideTables = []string{"feed_events", "feed", "notifications", "notification_streams"}

// side writes the side tables of a scratch read model (see sideTables).
type side struct {
	path    string
	db      *DB
	batches chan []sideStmt
	done    chan struct{} // closed when the goroutine has stopped; err is then set
	err     error
	stop    sync.Once
	sent    bool // anything was sent; only the projection's goroutine (writeMu) touches it
}

// sideStmt is one statement the projection issued for a side table.
type sideStmt struct {
	query string
	args  []any
}

// openSide creates the side file at path (discarding any old one) and
// starts its writer.
func openSide(ctx context.Context, path string) (*side, error) {
	db, err := openFresh(ctx, path)
	if err != nil {
		return nil, err
	}
	s := &side{path: path, db: db, batches: make(chan []sideStmt, 2), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// run writes the chunks in the order they came, all in one transaction
// that commits when the scratch read model joins them in: nothing reads the
// side file before, and a commit per chunk wrote the feed's pages (keyed by
// user, so spread over the whole table) again and again. After a failure it
// only drains: joinSide reports the error, and the rebuild fails.
func (s *side) run() {
	defer close(s.done)
	s.err = s.db.db.Update(context.Background(), func(c *sqlite.Conn) error {
		for batch := range s.batches {
			for _, st := range batch {
				if _, err := c.Exec(st.query, st.args...); err != nil {
					return fmt.Errorf("side table statement %q: %w", firstLine(st.query), err)
				}
			}
		}
		return nil
	})
	for range s.batches {
	}
}

// send hands statements to the writer. It blocks while the writer is two
// chunks behind, so that little is left to write when the projection ends
// and the statements waiting in memory stay bounded.
func (s *side) send(batch []sideStmt) {
	if len(batch) > 0 {
		s.sent = true
		s.batches <- batch
	}
}

// finish stops the writer once it has written everything sent, closes the
// side file and returns the first error the writer met.
func (s *side) finish() error {
	s.close()
	<-s.done
	return errors.Join(s.err, s.db.Close())
}

// close tells the writer that nothing more comes: it commits the side
// file once it has written what it has, without anyone waiting for it.
func (s *side) close() { s.stop.Do(func() { close(s.batches) }) }

// discard stops the writer and deletes the side file.
func (s *side) discard() error {
	err := s.finish()
	return errors.Join(err, RemoveFile(s.path))
}

// joinSide copies the side tables into the scratch read model, deletes the
// side file, and from then on the scratch writes them itself (an online
// rebuild catches up after it). The copies are whole-table INSERT … SELECT
// into empty tables with the same indexes, which SQLite runs as a transfer
// of records, not row by row. The feed is then pruned for the checkpoint
// reached, as pruneFeed would have done transaction by transaction had the
// rows been there (pruning is the same however the log was cut, see
// pruneFeed). A side that was sent nothing (a rebuild of another
// projection) leaves the tables alone.
//
// A join that fails leaves the scratch read model without its feed and
// notifications for good: every later join reports the same error, so no
// retry can switch in or install it as if whole.
func (db *DB) joinSide(ctx context.Context) error {
	if db.sideErr != nil {
		return db.sideErr
	}
	s := db.side
	if s == nil {
		return nil
	}
	db.side = nil
	if err := copySide(ctx, db, s); err != nil {
		db.sideErr = fmt.Errorf("join the feed and notifications written aside: %w", err)
		return db.sideErr
	}
	return nil
}

// copySide waits for the side writer, then copies its tables in (see
// joinSide) and deletes its file.
func copySide(ctx context.Context, db *DB, s *side) (err error) {
	defer func() { err = errors.Join(err, RemoveFile(s.path)) }()
	if err := s.finish(); err != nil || !s.sent {
		return err
	}
	conn, err := db.db.Write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS side`, s.path); err != nil {
		return fmt.Errorf("attach side tables: %w", err)
	}
	defer func() {
		if _, derr := conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE side`); derr != nil {
			err = errors.Join(err, fmt.Errorf("detach side tables: %w", derr))
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once committed
	for _, table := range sideTables {
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.`+table+` SELECT * FROM side.`+table); err != nil {
			return fmt.Errorf("copy side table %s: %w", table, err)
		}
	}
	err = pruneFeedThrough(func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}, db.FeedFloor(db.Checkpoint(ProjectionPlanning)))
	if err != nil {
		return err
	}
	return tx.Commit()
}

// finishSide joins the side tables if CreateDeferredIndexes has not: a
// scratch read model is switched in or installed whole, feed included.
func (db *DB) finishSide(ctx context.Context) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	return db.joinSide(ctx)
}

// sideChunk is how many side statements a transaction gathers before it
// hands them to the writer. A rebuild's transactions hold 65,536 events;
// sent only at their commit, the last one's feed was still being written
// long after the projection had finished (0.8 s of a 17 s rebuild).
const sideChunk = 2048

// sideExec runs a statement on a side table: in the transaction, or, while
// a scratch read model writes them aside, on the side writer (see side).
// Statements go to the writer in chunks before the transaction commits:
// a scratch read model is used whole or not at all, so one whose
// transaction failed is discarded with its side file (the rebuild fails).
func (t *Tx) sideExec(query string, args ...any) error {
	if t.db == nil || t.db.side == nil {
		_, err := t.exec(query, args...)
		return err
	}
	t.side = append(t.side, sideStmt{query, args})
	if len(t.side) >= sideChunk {
		t.db.side.send(t.side)
		t.side = nil
	}
	return nil
}

// firstLine is the start of a statement, for an error message.
func firstLine(query string) string {
	if i := strings.IndexByte(query, '\n'); i >= 0 {
		return query[:i]
	}
	return query
}
