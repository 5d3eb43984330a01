package eventstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
)

// The term trail: the Raft term of every entry the store applied, kept as
// the index at which each term's entries begin (one row per term, so a
// few rows a year). Raft hands the state machine again entries it applied
// before (after a restart, or after a snapshot older than the store), and
// the state machine skips them. Such an entry is the one the store applied
// only if its term is the one the trail gives for its index (Raft's log
// matching: an index and a term name one entry), and the state machine
// halts on any other (consensus/fsm.go). The applied index and term alone
// would let it check only the last entry, which the leader of another
// history may hold as an entry the state machine never sees (a no-op or
// a barrier): an operations review saw a node skip the other history's
// entries up to there and apply the rest on top of its own.
//
// The trail starts where this build first applied (or restored) entries:
// an older build kept none, and a snapshot restored carries only its last
// index and term.
const termsSchema = `
CREATE TABLE IF NOT EXISTS terms (
	first_index INTEGER PRIMARY KEY,
	term        INTEGER NOT NULL
);`

// ErrDiverged means the store applied entries the Raft history offered to
// it does not hold: a snapshot or an entry of another history. The node
// cannot follow that history with this store; moved aside, it joins anew.
var ErrDiverged = errors.New("histories diverged")

// TermStart says that the entries from Index on, up to the next start, are
// of Term.
type TermStart struct{ Index, Term uint64 }

// Terms is a store's term trail, oldest first.
type Terms []TermStart

// At returns the term of the entry the store applied at index (at or below
// its applied index), or false for an index before the trail begins.
func (ts Terms) At(index uint64) (uint64, bool) {
	i := sort.Search(len(ts), func(i int) bool { return ts[i].Index > index })
	if i == 0 {
		return 0, false
	}
	return ts[i-1].Term, true
}

// Terms returns the store's term trail.
func (t *Tx) Terms() (Terms, error) {
	var ts Terms
	err := t.query(func(rows *sql.Rows) error {
		var s TermStart
		var index, term int64
		if err := rows.Scan(&index, &term); err != nil {
			return err
		}
		s.Index, s.Term = uint64(index), uint64(term)
		ts = append(ts, s)
		return nil
	}, "SELECT first_index, term FROM terms ORDER BY first_index")
	if err != nil {
		return nil, fmt.Errorf("read the term trail: %w", err)
	}
	return ts, nil
}

// StartTerm records that the entries from index on are of term: the state
// machine calls it for the first entry it applies of each term, so a row
// at index already there is a bug, and fails.
func (t *Tx) StartTerm(index, term uint64) error {
	if _, err := t.tx.ExecContext(t.ctx, "INSERT INTO terms (first_index, term) VALUES (?, ?)", int64(index), int64(term)); err != nil {
		return fmt.Errorf("record the term of entry %d: %w", index, err)
	}
	return nil
}

// resetTerms starts the trail again at index and term (none if index is 0):
// what a restored snapshot tells of the entries it covers.
func resetTerms(ctx context.Context, tx *sql.Tx, index, term uint64) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM terms"); err != nil {
		return fmt.Errorf("reset the term trail: %w", err)
	}
	if index == 0 || term == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO terms (first_index, term) VALUES (?, ?)", int64(index), int64(term)); err != nil {
		return fmt.Errorf("reset the term trail: %w", err)
	}
	return nil
}

// reconcileTerms creates the trail in a store written before it existed,
// starting it at the applied entry, and starts it again there when it no
// longer ends there: an older build, which keeps no trail, applied entries
// since (rolled back and forward again). Terms only grow along the log, so
// a trail whose last term is the applied entry's still holds for every
// entry since its last start. It writes nothing to a store whose trail
// holds.
//
// It also drops an unproven mark that is not at the applied index: an older
// build, which ignores the mark, applied past it since.
func reconcileTerms(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, termsSchema); err != nil {
		return fmt.Errorf("create the term trail: %w", err)
	}
	var applied, term, unproven int64
	if err := tx.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'applied_index'),
		(SELECT value FROM meta WHERE key = 'applied_term'),
		COALESCE((SELECT value FROM meta WHERE key = 'unproven'), 0)`).Scan(&applied, &term, &unproven); err != nil {
		return fmt.Errorf("read applied index: %w", err)
	}
	if unproven != 0 && unproven != applied {
		if _, err := tx.ExecContext(ctx, deleteUnproven); err != nil {
			return fmt.Errorf("drop a stale unproven mark: %w", err)
		}
	}
	var lastIndex, lastTerm int64
	err := tx.QueryRowContext(ctx, "SELECT first_index, term FROM terms ORDER BY first_index DESC LIMIT 1").Scan(&lastIndex, &lastTerm)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if applied == 0 {
			return nil
		}
	case err != nil:
		return fmt.Errorf("read the term trail: %w", err)
	case lastTerm == term && lastIndex <= applied:
		return nil
	}
	return resetTerms(ctx, tx, uint64(applied), uint64(term))
}

// The unproven mark is the meta row 'unproven': the applied index an
// installed snapshot left unproven.
const (
	selectUnproven = "SELECT COALESCE((SELECT value FROM meta WHERE key = 'unproven'), 0)"
	deleteUnproven = "DELETE FROM meta WHERE key = 'unproven'"
)

// Unproven returns the store's applied index while it is not yet known to
// be in the cluster's history, 0 otherwise. A snapshot the leader installs
// that applied less than the store did leaves the store as it is (Restore),
// and the entries in between must be proven by the leader's own as they
// arrive; until then the store's last entries may be ones the cluster did
// not keep, and the state machine takes nothing past them.
func (s *Store) Unproven(ctx context.Context) (uint64, error) {
	var v int64
	if err := s.db.Read.QueryRowContext(ctx, selectUnproven).Scan(&v); err != nil {
		return 0, fmt.Errorf("read unproven index: %w", err)
	}
	return uint64(v), nil
}

// SetProven records that the store's applied entries are the cluster's.
func (t *Tx) SetProven() error {
	if _, err := t.tx.ExecContext(t.ctx, deleteUnproven); err != nil {
		return fmt.Errorf("record the applied index proven: %w", err)
	}
	return nil
}

// setUnproven marks the store's applied index unproven.
func (t *Tx) setUnproven() error {
	if _, err := t.tx.ExecContext(t.ctx, "INSERT INTO meta (key, value) VALUES ('unproven', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", int64(t.applied)); err != nil {
		return fmt.Errorf("record the applied index unproven: %w", err)
	}
	return nil
}

// ClearUnproven forgets the unproven mark: a recover makes the node's own
// store and log the cluster's history.
func (s *Store) ClearUnproven(ctx context.Context) error {
	if _, err := s.db.Write.ExecContext(ctx, deleteUnproven); err != nil {
		return fmt.Errorf("clear the unproven mark: %w", err)
	}
	return nil
}
