package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Conn is one go-sqlite3 connection used directly, for the statements
// that run by the thousand: the projections' transactions, once per
// committed batch on every node (Update), and the reads behind every
// agenda view and booking decision (View, Snapshot). They are many and tiny, and
// database/sql costs more than SQLite on them: a query inside a sql.Tx
// starts a goroutine to watch the transaction's context, and every argument
// and column goes through reflection: 3.2 µs against 0.8 µs for a one-row
// look-up, 1.1 against 0.85 µs for an insert. Statements are prepared once
// per connection, not once per use: Update's writes are held prepared by
// the database (held.go), everything else comes from the connection's
// statement cache (_stmt_cache_size).
//
// Its methods mirror database/sql's, with the same sql.ErrNoRows, so code
// reads the same; Scan supports the destination types the read model uses
// (see assign) and refuses any other.
//
// A Conn is valid only inside the function it was handed to, and every Rows
// it returned must be closed by then: unlike database/sql's, the connection
// goes back to the pool when the function returns, and a statement left
// open would keep its snapshot (every later read on that connection would
// see old data) and be finalized by the garbage collector, from another
// goroutine, on a connection opened without SQLite's mutex. So rows still
// open are closed when the function returns, and that is reported as an
// error; a Conn used after its function has returned answers errConnDone.
type Conn struct {
	conn *sqlite3.SQLiteConn
	ctx  context.Context
	open map[*Rows]struct{} // rows Query returned and nobody closed yet
	// nv is reused by every statement (see bind).
	nv []driver.NamedValue
	// stmts are the write statements held prepared (see held); nil outside
	// Update.
	stmts map[string]*sqlite3.SQLiteStmt
}

// errConnDone is what a Conn used outside its function answers.
var errConnDone = errors.New("sqlite: Conn used after the function it was handed to returned")

// finish closes the rows fn left open and reports them: a programming
// error, caught before a transaction commits.
func (c *Conn) finish() error {
	if len(c.open) == 0 {
		return nil
	}
	n := len(c.open)
	for r := range c.open {
		r.Close()
	}
	return fmt.Errorf("sqlite: %d rows left open", n)
}

// Update runs fn in a write transaction on the writer connection, committing
// if fn returns nil. The transaction runs to its end once begun: a caller
// that stops does so between transactions (see readmodel.DB.Apply).
func (db *DB) Update(ctx context.Context, fn func(*Conn) error) error {
	return raw(ctx, db.Write, func(c *Conn) error {
		c.stmts = db.held.of(c.conn)
		dtx, err := c.conn.BeginTx(c.ctx, driver.TxOptions{}) // BEGIN IMMEDIATE (_txlock)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		if err := errors.Join(fn(c), c.finish()); err != nil { // rows closed before the end
			_ = dtx.Rollback()
			return err
		}
		if err := dtx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// View runs fn on a reader connection. Each statement reads its own
// snapshot, as a statement of database/sql's Read pool does; a read that
// needs several statements to agree uses Snapshot instead. Reads ignore
// cancellation, as the read model's database/sql reads do: they are short
// and bounded.
func (db *DB) View(ctx context.Context, fn func(*Conn) error) error {
	return raw(context.WithoutCancel(ctx), db.Read, fn)
}

// Snapshot runs fn in a read transaction on a reader connection: every
// statement fn runs reads the same snapshot of the database.
func (db *DB) Snapshot(ctx context.Context, fn func(*Conn) error) error {
	return raw(context.WithoutCancel(ctx), db.Read, func(c *Conn) error {
		dtx, err := c.conn.BeginTx(c.ctx, driver.TxOptions{}) // BEGIN (deferred): a reader's
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer dtx.Rollback() // nothing to keep: it only read
		return errors.Join(fn(c), c.finish())
	})
}

// raw runs fn on a connection of pool, ignoring cancellation once it has
// one: statements are short and bounded, and watching the context costs
// more than they do. Whatever fn leaves open is closed and reported (see
// finish), and closed even if fn panics; the Conn refuses any use
// afterwards. Update and Snapshot call finish themselves, before their
// transaction ends.
func raw(ctx context.Context, pool *sql.DB, fn func(*Conn) error) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	ctx = context.WithoutCancel(ctx)
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("driver connection is %T, not go-sqlite3's", dc)
		}
		c := &Conn{conn: sc, ctx: ctx, open: map[*Rows]struct{}{}}
		defer func() {
			_ = c.finish() // a no-op, unless fn panicked
			c.conn, c.stmts = nil, nil
		}()
		return errors.Join(fn(c), c.finish())
	})
}

// bind converts a statement's arguments for the driver, into the one slice
// every statement of the Conn reuses: go-sqlite3 binds the values (copying
// text and blobs) and keeps nothing of the slice, and a projection's
// transaction runs hundreds of thousands of statements in a rebuild. It
// refuses a Conn whose function has returned.
func (c *Conn) bind(args []any) ([]driver.NamedValue, error) {
	if c.conn == nil {
		return nil, errConnDone
	}
	nv, err := namedValues(c.nv[:0], args)
	if err != nil {
		return nil, err
	}
	c.nv = nv
	return nv, nil
}

// Exec runs a statement (or several, separated by semicolons).
func (c *Conn) Exec(query string, args ...any) (driver.Result, error) {
	nv, err := c.bind(args)
	if err != nil {
		return nil, err
	}
	if st := c.heldStmt(query, len(nv)); st != nil {
		return st.ExecContext(c.ctx, nv)
	}
	return c.conn.ExecContext(c.ctx, query, nv)
}

// Query runs a statement that returns rows. The caller closes them.
func (c *Conn) Query(query string, args ...any) (*Rows, error) {
	nv, err := c.bind(args)
	if err != nil {
		return nil, err
	}
	rows, err := c.conn.QueryContext(c.ctx, query, nv)
	if err != nil {
		return nil, err
	}
	r := &Rows{rows: rows, dest: make([]driver.Value, len(rows.Columns())), conn: c}
	c.open[r] = struct{}{}
	return r, nil
}

// QueryRow runs a statement expected to return at most one row; its Scan
// returns sql.ErrNoRows when there is none.
func (c *Conn) QueryRow(query string, args ...any) *Row {
	rows, err := c.Query(query, args...)
	return &Row{rows: rows, err: err}
}

// Rows is the result of Query, read like *sql.Rows.
type Rows struct {
	rows   driver.Rows
	dest   []driver.Value
	err    error
	closed bool
	conn   *Conn
}

// Next prepares the next row for Scan; false at the end or on an error
// (see Err), having closed the rows.
func (r *Rows) Next() bool {
	if r.closed {
		return false
	}
	if err := r.rows.Next(r.dest); err != nil {
		if err != io.EOF {
			r.err = err
		}
		r.Close()
		return false
	}
	return true
}

// Scan copies the current row's columns into dest, one pointer per column.
func (r *Rows) Scan(dest ...any) error {
	if r.closed {
		return errors.New("sqlite: Scan after the last row")
	}
	if len(dest) != len(r.dest) {
		return fmt.Errorf("sqlite: Scan into %d values, the row has %d columns", len(dest), len(r.dest))
	}
	for i, v := range r.dest {
		if err := assign(dest[i], v); err != nil {
			return fmt.Errorf("sqlite: column %d: %w", i, err)
		}
	}
	return nil
}

// Err is the error that ended the iteration, if any.
func (r *Rows) Err() error { return r.err }

// Close releases the statement; it is safe to call more than once.
func (r *Rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	delete(r.conn.open, r)
	return r.rows.Close()
}

// Row is the result of QueryRow.
type Row struct {
	rows *Rows
	err  error
}

// Scan copies the row's columns into dest; sql.ErrNoRows if there is none.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	return r.rows.Scan(dest...)
}

// namedValues appends to nv the arguments converted as database/sql would:
// driver values pass as they are, anything else (an int, a named string or
// []byte type) through driver.DefaultParameterConverter.
func namedValues(nv []driver.NamedValue, args []any) ([]driver.NamedValue, error) {
	for i, a := range args {
		v := a
		if !driver.IsValue(a) {
			var err error
			if v, err = driver.DefaultParameterConverter.ConvertValue(a); err != nil {
				return nil, fmt.Errorf("sqlite: argument %d: %w", i+1, err)
			}
		}
		nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return nv, nil
}

// assign stores the column value src in dest. go-sqlite3 gives int64,
// float64, string, []byte or nil for the column types the schemas use
// (INTEGER, REAL, TEXT, BLOB; none is declared as a date or a boolean).
// NULL goes only into a sql.Scanner (sql.NullString…) or an *any.
func assign(dest, src any) error {
	switch d := dest.(type) {
	case *string:
		switch s := src.(type) {
		case string:
			*d = s
			return nil
		case []byte:
			*d = string(s)
			return nil
		case int64:
			*d = strconv.FormatInt(s, 10)
			return nil
		}
	case *int64:
		if s, ok := src.(int64); ok {
			*d = s
			return nil
		}
	case *int:
		if s, ok := src.(int64); ok {
			*d = int(s)
			return nil
		}
	case *bool:
		if s, ok := src.(int64); ok && (s == 0 || s == 1) {
			*d = s == 1
			return nil
		}
	case *float64:
		switch s := src.(type) {
		case float64:
			*d = s
			return nil
		case int64:
			*d = float64(s)
			return nil
		}
	case *[]byte:
		switch s := src.(type) {
		case []byte:
			*d = s // go-sqlite3 copies every value out of SQLite's memory
			return nil
		case string:
			*d = []byte(s)
			return nil
		case nil:
			*d = nil
			return nil
		}
	case *any:
		*d = src
		return nil
	case sql.Scanner:
		return d.Scan(src)
	}
	return fmt.Errorf("cannot store %T in %T", src, dest)
}
