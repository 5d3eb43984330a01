package sqlite

import (
	"context"
	"strings"
	"sync"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// maxHeld bounds the statements held for the writer connection. The
// projections write with a few dozen statement texts (sqlite.In and
// sqlite.Runs keep the variable-length ones to a handful each); a text past
// the bound simply goes through the driver's cache.
const maxHeld = 128

// held keeps the writer connection's write statements prepared for the
// life of the connection, so that Update's Exec runs them directly: bind,
// step. Through go-sqlite3's statement cache every Exec also took the
// statement out of the cache and put it back, which locks the connection,
// moves slice entries, clears the statement's finalizer and resets it a
// second time (it is reset again before the next bind): about 0.2 µs of a
// 1.5–2 µs insert, and a rebuild runs millions of them.
//
// Statements belong to one driver connection and must be finalized before
// it closes (sqlite3_close_v2 would otherwise keep the whole connection,
// page cache included, alive as a zombie), so they are kept per
// connection, used only while Update holds that connection, and finalized
// by DB.Close on it (release). Only the writer's are held: readers run one or
// two statements per use, and their statements would have to be finalized
// on every reader connection.
type held struct {
	mu      sync.Mutex
	closing bool
	stmts   map[*sqlite3.SQLiteConn]map[string]*sqlite3.SQLiteStmt
}

// of returns the statements held for conn, nil once the database closes.
// The caller must hold conn (be inside Update).
func (h *held) of(conn *sqlite3.SQLiteConn) map[string]*sqlite3.SQLiteStmt {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return nil
	}
	if h.stmts == nil {
		h.stmts = map[*sqlite3.SQLiteConn]map[string]*sqlite3.SQLiteStmt{}
	}
	m := h.stmts[conn]
	if m == nil {
		m = map[string]*sqlite3.SQLiteStmt{}
		h.stmts[conn] = m
	}
	return m
}

// release finalizes every held statement, on the writer connection once
// no Update holds it, and holds no more afterwards.
func (h *held) release(db *DB) {
	h.mu.Lock()
	h.closing = true
	used := len(h.stmts) > 0
	h.mu.Unlock()
	if !used {
		// No Update ever ran (the event store and the audit trail use
		// database/sql only): nothing to finalize, and no reason to wait
		// for the writer connection.
		return
	}
	conn, err := db.Write.Conn(context.Background()) // waits for a running Update
	if err != nil {
		return // the pool is closed: nothing was held, or Close ran already
	}
	defer conn.Close()
	_ = conn.Raw(func(dc any) error {
		sc, _ := dc.(*sqlite3.SQLiteConn)
		h.mu.Lock()
		m := h.stmts[sc]
		delete(h.stmts, sc)
		h.mu.Unlock()
		for _, st := range m {
			if st != nil {
				_ = st.Close()
			}
		}
		return nil
	})
}

// heldStmt returns the held statement for query, preparing it on first
// use, or nil where the driver's cached path must run it: outside Update, a
// text that may not be held (holdable), argument counts that do not match
// (the cached path reports them), past maxHeld, or if it does not prepare
// (the cached path reports why). Whether a text may be held is decided
// once, when it is first seen.
func (c *Conn) heldStmt(query string, args int) *sqlite3.SQLiteStmt {
	if c.stmts == nil {
		return nil
	}
	st, ok := c.stmts[query]
	if !ok {
		if len(c.stmts) >= maxHeld {
			return nil
		}
		if holdable(query) {
			s, err := c.conn.Prepare(query)
			if err != nil {
				return nil
			}
			if st = s.(*sqlite3.SQLiteStmt); st.Readonly() {
				_ = st.Close()
				st = nil
			}
		}
		c.stmts[query] = st // nil: not held, asked once
	}
	if st == nil || st.NumInput() != args {
		return nil
	}
	return st
}

// holdable reports whether a statement run through Exec may stay prepared
// between runs: one INSERT, UPDATE, DELETE or REPLACE (not several: a held
// statement would run only the first; a semicolon in a literal costs only
// the holding) that returns no rows (and writes: heldStmt checks that on
// the prepared statement). It runs until SQLite says done, so nothing of it
// is left in progress; a statement returning rows (a SELECT, RETURNING,
// some PRAGMAs) would stop at its first row and keep a read of the database
// open until its next run.
func holdable(query string) bool {
	q := strings.ToUpper(strings.TrimSpace(query))
	if strings.IndexByte(q, ';') >= 0 || strings.Contains(q, "RETURNING") {
		return false
	}
	for _, verb := range []string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
		if strings.HasPrefix(q, verb) {
			return true
		}
	}
	return false // a PRAGMA, a WITH …: it may return rows
}
