package readmodel

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/notify"
	"github.com/agendahq/agenda/internal/sqlite"
)

// ListCap is the most a list of one's own answers (groups, invitations):
// nothing bounds how many of them one may have, and a read must cost what
// it returns, not what its user has accumulated. Answering or leaving some
// shows the rest; README's Known limits says so.
const ListCap = 1000

// DB is the read model database.
type DB struct {
	db *sqlite.DB

	// writeMu serialises Apply and Reset, so that a checkpoint in memory
	// never disagrees with the one in the file.
	writeMu     sync.Mutex
	mu          sync.Mutex
	checkpoints map[string]int64
	// stored holds each projection's checkpoint as the file has it: Skip
	// moves the one in memory past it (see Skip). Guarded by mu.
	stored   map[string]int64
	position notify.Position // the lowest checkpoint
	// horizon is the highest position any projection's rows may show: it
	// moves before a transaction that may show events up to it commits
	// (see Horizon).
	horizon atomic.Int64

	feed feedState

	// users caches TokenState and UserByID (see usersCache).
	users usersCache

	// deferred holds the CREATE INDEX statements of the secondary indexes a
	// scratch read model builds only once loaded (see OpenScratch).
	deferred []string

	// discarded is why Open started over (see Discarded); reset names the
	// projections whose tables it recreated (see ProjectionsReset).
	discarded string
	reset     []string

	// side writes a scratch read model's feed and notifications until
	// joinSide (side.go); nil otherwise. Set and cleared with writeMu held,
	// as is sideErr, set if joining them failed.
	side    *side
	sideErr error
}

// Open opens the read model at path, discarding the file and recreating it
// empty, so that the projectors rebuild it from the event store, when it
// cannot be trusted: written with another schema version, or being written
// when the machine stopped (it is written without fsync, see
// sqlite.Unsynced). Discarded says which. Scratch files a crashed rebuild
// left beside it are deleted.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := removeScratch(path); err != nil {
		return nil, err
	}
	db, err := open(ctx, path)
	var why string
	switch {
	case errors.Is(err, sqlite.ErrSchemaMismatch):
		why = "it was written with another schema version"
	case errors.Is(err, sqlite.ErrUnsyncedAtCrash):
		why = "the machine stopped while it was being written"
	default:
		return db, err
	}
	if err := RemoveFile(path); err != nil {
		return nil, fmt.Errorf("discard the read model (%s): %w", why, err)
	}
	if db, err = open(ctx, path); err != nil {
		return nil, err
	}
	db.discarded = why
	return db, nil
}

// Discarded says why Open found the file it was given unfit and started an
// empty one, which the projectors then fill from the event store; "" if it
// did not.
func (db *DB) Discarded() string { return db.discarded }

// ProjectionsReset names the projections whose tables Open recreated empty
// because their schema changed (or the file was new): the projector builds
// them again from the event store.
func (db *DB) ProjectionsReset() []string { return db.reset }

// open opens the live read model without fsync: it is built again from the
// event store whenever a crash of the machine may have damaged it.
func open(ctx context.Context, path string) (*DB, error) {
	return openDurability(ctx, path, sqlite.Unsynced)
}

func openDurability(ctx context.Context, path string, d sqlite.Durability) (*DB, error) {
	sdb, err := sqlite.Open(path, d)
	if err != nil {
		return nil, err
	}
	return openOn(ctx, sdb)
}

// openOn creates the schema in sdb if it is empty and loads the checkpoints;
// it closes sdb if it fails.
func openOn(ctx context.Context, sdb *sqlite.DB) (*DB, error) {
	if _, err := sdb.Init(ctx, SchemaVersion, schema()); err != nil {
		sdb.Close()
		return nil, err
	}
	reset, err := migrateProjections(ctx, sdb)
	if err != nil {
		sdb.Close()
		return nil, err
	}
	db := &DB{db: sdb, checkpoints: map[string]int64{}, stored: map[string]int64{}, reset: reset}
	for _, p := range Projections {
		db.checkpoints[p] = 0
	}
	rows, err := sdb.Read.QueryContext(ctx, "SELECT projection, position FROM checkpoints")
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var pos int64
		if err := rows.Scan(&name, &pos); err != nil {
			sdb.Close()
			return nil, err
		}
		if _, ok := db.checkpoints[name]; ok { // ignore projections that no longer exist
			db.checkpoints[name] = pos
			db.stored[name] = pos
		}
	}
	db.position.Reset(db.lowest())
	for _, c := range db.checkpoints {
		db.raiseHorizon(c)
	}
	return db, rows.Err()
}

// query runs a read. Reads are short and bounded, so they ignore
// cancellation: go-sqlite3 otherwise starts a watcher goroutine per query
// and checks the context on every row, which cost more than the query.
//
// Statements are prepared once per connection and cached (_stmt_cache_size).
// SQLite would otherwise parse and plan again, on every run, a statement
// whose plan it tied to a bound value (a join with a "column = ?" filter,
// an ORDER BY beside one): every connection runs with the query planner
// stability guarantee, which forbids such plans (internal/sqlite/qpsg.go).
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.db.Read.QueryContext(context.WithoutCancel(ctx), q, args...)
}

func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.db.Read.QueryRowContext(context.WithoutCancel(ctx), q, args...)
}

// Close stores the checkpoints Skip moved in memory only, so that a clean
// shutdown leaves the file as if every batch had been applied, then closes
// the database.
func (db *DB) Close() error {
	err := db.StoreCheckpoints()
	db.writeMu.Lock()
	if db.side != nil { // a scratch read model given up before joinSide
		err = errors.Join(err, db.side.discard())
		db.side = nil
	}
	db.writeMu.Unlock()
	if cerr := db.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// StoreCheckpoints writes every checkpoint Skip moved ahead of the stored
// one, each in a transaction of its own as Apply would write it (so that the
// feed is pruned for it, if its floor moved). Close does it; tests that read
// the file behind an open read model do it first.
func (db *DB) StoreCheckpoints() error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	for _, p := range Projections {
		db.mu.Lock()
		c, stored := db.checkpoints[p], db.stored[p]
		db.mu.Unlock()
		if c == stored {
			continue
		}
		if err := db.apply(context.Background(), p, c, func(*Tx) error { return nil }); err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint returns the position a projection has applied up to.
func (db *DB) Checkpoint(projection string) int64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.checkpoints[projection]
}

// Position returns the position every projection has reached: the read
// model reflects all events up to it. A state read after it is at least that
// fresh; to decide whether to wait for a position, read Position first.
func (db *DB) Position() int64 { return db.position.Get() }

// Horizon returns a position no state this read model has shown is newer
// than: one to hand a client as "at least as fresh as what you were
// answered" (a login's token, a refusal's X-Agenda-Position), read after
// the reads it vouches for. Position will not do: it is the lowest
// checkpoint, and one projection runs ahead of another (the users
// projection skips past appointments), so a user read at position 50 could
// go out with 40, and a node at 45 would call the user unknown. A node
// whose Position reaches Horizon shows all that was shown here.
func (db *DB) Horizon() int64 { return db.horizon.Load() }

// raiseHorizon moves the horizon up to p (never down).
func (db *DB) raiseHorizon(p int64) {
	for {
		h := db.horizon.Load()
		if p <= h || db.horizon.CompareAndSwap(h, p) {
			return
		}
	}
}

// raiseHorizonFor raises the horizon to p just before a commit that may
// show events up to p, and returns what lowers it again if the commit
// fails: left raised, it would name a position this node may never reach
// (a projection that gives up stays behind it), and reads asked to wait for
// it would wait in vain. db.writeMu must be held, as by everything that
// raises the horizon, so nothing else moves it meanwhile.
func (db *DB) raiseHorizonFor(p int64) (undo func()) {
	prev := db.horizon.Load()
	if p <= prev {
		return func() {}
	}
	db.horizon.Store(p)
	return func() { db.horizon.CompareAndSwap(p, prev) }
}

// lowest returns the lowest checkpoint; db.mu must be held (or db unshared).
func (db *DB) lowest() int64 {
	first := true
	var p int64
	for _, c := range db.checkpoints {
		if first || c < p {
			p, first = c, false
		}
	}
	return p
}

// WaitFor blocks until Position reaches position. It returns an
// EUNAVAILABLE error if ctx ends first.
func (db *DB) WaitFor(ctx context.Context, position int64) error {
	if err := db.position.Wait(ctx, position); err != nil {
		return agenda.Errorf(agenda.EUNAVAILABLE, "read model has not reached position %d (at %d)", position, db.position.Get())
	}
	return nil
}

// setCheckpoint moves a projection's checkpoint after its tables were
// replaced or copied wholesale (switch.go): cached users may no longer
// hold.
func (db *DB) setCheckpoint(projection string, position int64) {
	db.users.invalidate()
	db.advanceCheckpoint(projection, position, true)
}

// advanceCheckpoint moves a projection's checkpoint in memory, and records
// it as the one in the file if stored.
func (db *DB) advanceCheckpoint(projection string, position int64, stored bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.checkpoints[projection] = position
	if stored {
		db.stored[projection] = position
	}
	db.raiseHorizon(position)
	db.position.Set(db.lowest())
}

// ErrCheckpointMoved means a projector tried to apply events from a position
// other than its stored checkpoint: it must resume from the checkpoint.
var ErrCheckpointMoved = errors.New("projection checkpoint moved")

// Apply runs fn in one write transaction that also moves projection's
// checkpoint from `from` to `to`; the change and the checkpoint commit
// together or not at all, so a projector that crashes resumes exactly where
// its last commit left off.
func (db *DB) Apply(ctx context.Context, projection string, from, to int64, fn func(*Tx) error) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	// The checkpoint in memory is the one the projection has reached:
	// every change to it (Apply, Skip, Reset, a switch, a copy) holds
	// writeMu, and the data dir lock keeps other processes out. Checking it
	// here spares a query per batch, which counts when batches are one
	// event long.
	if cur := db.Checkpoint(projection); cur != from {
		return fmt.Errorf("%w: %s is at %d, batch starts at %d", ErrCheckpointMoved, projection, cur, from)
	}
	return db.apply(ctx, projection, to, fn)
}

// maxUnstored bounds how far Skip lets a checkpoint in memory run ahead of
// the stored one: as far a restart may have to read the log again, finding
// nothing to project.
const maxUnstored = 16384

// Skip moves projection's checkpoint from `from` to `to` across positions
// that hold no event of the projection's: there is nothing to write, so it
// moves in memory only (the read model's Position with it) and the file
// keeps the older checkpoint, until the projection's next Apply, or until
// it would lag by maxUnstored positions, when Skip writes it. A restart
// from the stored checkpoint finds nothing to project up to where Skip
// went, so it ends in the same state. Under a load that a projection does
// not see (the users projection while appointments are booked) this spares
// a write transaction per batch, and a write's wait for the read model no
// longer waits for it. ErrCheckpointMoved as Apply.
func (db *DB) Skip(ctx context.Context, projection string, from, to int64) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if cur := db.Checkpoint(projection); cur != from {
		return fmt.Errorf("%w: %s is at %d, batch starts at %d", ErrCheckpointMoved, projection, cur, from)
	}
	db.mu.Lock()
	lag := to - db.stored[projection]
	db.mu.Unlock()
	if lag >= maxUnstored {
		return db.apply(ctx, projection, to, func(*Tx) error { return nil })
	}
	db.advanceCheckpoint(projection, to, false)
	return nil
}

// apply is Apply once the checkpoint is checked; db.writeMu is held.
func (db *DB) apply(ctx context.Context, projection string, to int64, fn func(*Tx) error) error {
	// The transaction moves the checkpoint in the file from stored to to
	// (Skip may have moved it in memory in between): what the file's feed
	// was last pruned for is FeedFloor(stored).
	db.mu.Lock()
	stored := db.stored[projection]
	db.mu.Unlock()
	var t *Tx
	undo := func() {}
	err := db.db.Update(ctx, func(tx *sqlite.Conn) error {
		t = &Tx{tx: tx, db: db, projection: projection, from: stored, to: to}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.flush(); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO checkpoints (projection, position) VALUES (?, ?)
			ON CONFLICT (projection) DO UPDATE SET position = excluded.position`, projection, to); err != nil {
			return fmt.Errorf("store checkpoint of %s: %w", projection, err)
		}
		undo = db.raiseHorizonFor(to) // the commit follows
		return nil
	})
	if err != nil {
		undo()
		return err
	}
	if db.side != nil {
		db.side.send(t.side)
	}
	if projection == ProjectionUsers {
		// Before the position moves: a request that sees the new
		// position must not be served a user from before it. (A batch
		// with none of the projection's events is a Skip, which writes
		// nothing: this runs only where something may have changed.)
		db.users.invalidate()
	}
	db.advanceCheckpoint(projection, to, true)
	return nil
}

// Reset clears a projection's tables and checkpoint so that it is rebuilt
// from the start of the event store.
func (db *DB) Reset(ctx context.Context, projection string) error {
	tables, ok := projectionTables[projection]
	if !ok {
		return agenda.Errorf(agenda.ENOTFOUND, "no projection %q", projection)
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	err := db.db.WithTx(ctx, func(tx *sql.Tx) error {
		for _, t := range tables {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
				return fmt.Errorf("clear %s: %w", t, err)
			}
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM checkpoints WHERE projection = ?", projection)
		return err
	})
	if err != nil {
		return err
	}
	db.users.invalidate()
	db.mu.Lock()
	db.checkpoints[projection] = 0
	db.stored[projection] = 0
	db.position.Reset(db.lowest())
	db.mu.Unlock()
	return nil
}

// Tx is a projector's write transaction.
type Tx struct {
	tx *sqlite.Conn
	db *DB
	// projection's checkpoint in the file moves from `from` to `to` with
	// this transaction (pruneFeed floors the feed by it).
	projection string
	from, to   int64
	// feedNotes holds the notifications of the event being projected, until
	// its feed entries are written (see WriteFeed).
	feedNotes map[string]agenda.Notification
	// agendaVersions holds the last agenda stream version seen per user in
	// this transaction; it is written once, at the end, rather than once per
	// event.
	agendaVersions map[string]agendaVersion
	// appointments holds what the transaction knows of the appointments
	// whose row it wrote or whose entries it added: what an entry copies
	// of each, and whether entries must copy it again at the end
	// (refreshEntries).
	appointments map[string]*appointmentState
	// ungrouped holds the users EntryViewers found in no group (not even
	// invited to one) in this transaction: every agenda event asks, and a
	// rebuild's transaction holds tens of thousands of them for a few
	// thousand users. Removals only keep it true; every statement that adds
	// a group_members row goes through Tx.joinsGroup, which drops the user.
	ungrouped map[string]bool
	// side holds the statements on side tables while a scratch read model
	// writes them aside (see sideExec); apply sends what is left of them
	// once committed.
	side []sideStmt
}

// joinsGroup notes that userID now has a group_members row (see ungrouped).
func (t *Tx) joinsGroup(userID string) { delete(t.ungrouped, userID) }

type agendaVersion struct {
	version     int64
	origin      string
	maxDuration int64
}

// flush writes what the transaction deferred.
func (t *Tx) flush() error {
	if err := t.pruneFeed(); err != nil {
		return err
	}
	if err := t.refreshEntries(); err != nil {
		return err
	}
	for user, v := range t.agendaVersions {
		_, err := t.exec(`INSERT INTO agenda_streams (user_id, version, origin_node, max_duration_ns) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, origin_node = excluded.origin_node,
			max_duration_ns = MAX(max_duration_ns, excluded.max_duration_ns)`,
			user, v.version, v.origin, v.maxDuration)
		if err != nil {
			return fmt.Errorf("set agenda version of %s: %w", user, err)
		}
	}
	return nil
}

// The projection's statements run on the writer connection directly
// (sqlite.Conn): each is prepared once per connection (its writes are held
// prepared, its reads come from the statement cache).

func (t *Tx) exec(query string, args ...any) (driver.Result, error) {
	return t.tx.Exec(query, args...)
}

func (t *Tx) query(q string, args ...any) (*sqlite.Rows, error) {
	return t.tx.Query(q, args...)
}

func (t *Tx) queryRow(q string, args ...any) *sqlite.Row {
	return t.tx.QueryRow(q, args...)
}

// execOne runs a statement that must change exactly one row; anything else
// means the projection and the event store disagree.
func (t *Tx) execOne(what, query string, args ...any) error {
	res, err := t.exec(query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n != 1 {
		return fmt.Errorf("%s: changed %d rows, want 1", what, n)
	}
	return nil
}
