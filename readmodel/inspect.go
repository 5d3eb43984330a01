package readmodel

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Digest returns a SHA-256 of every row of each given table (all tables of
// every projection if none is given), rows in a canonical order: two read
// models with equal digests hold the same data, table by table.
func (db *DB) Digest(ctx context.Context, tables ...string) (map[string]string, error) {
	if len(tables) == 0 {
		for _, p := range Projections {
			tables = append(tables, projectionTables[p]...)
		}
	}
	out := make(map[string]string, len(tables))
	for _, t := range tables {
		d, err := digestTable(ctx, db.db.Read, t)
		if err != nil {
			return nil, err
		}
		out[t] = d
	}
	return out, nil
}

func digestTable(ctx context.Context, q *sql.DB, table string) (string, error) {
	rows, err := q.QueryContext(ctx, "SELECT * FROM "+table+" LIMIT 0")
	if err != nil {
		return "", fmt.Errorf("digest %s: %w", table, err)
	}
	cols, err := rows.Columns()
	rows.Close()
	if err != nil {
		return "", err
	}
	order := make([]string, len(cols))
	for i := range cols {
		order[i] = fmt.Sprint(i + 1)
	}
	rows, err = q.QueryContext(ctx, "SELECT * FROM "+table+" ORDER BY "+strings.Join(order, ", "))
	if err != nil {
		return "", fmt.Errorf("digest %s: %w", table, err)
	}
	defer rows.Close()
	h := sha256.New()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		for _, v := range vals {
			fmt.Fprintf(h, "%T:%v\x1f", v, v)
		}
		h.Write([]byte{'\n'})
		n++
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d rows %s", n, hex.EncodeToString(h.Sum(nil))[:16]), nil
}

// FileStatus describes a read model file without opening it for writing.
type FileStatus struct {
	// Exists is false if there is no file (the node projects from scratch
	// at start); SchemaOK is false if it was written with another schema
	// version (the node discards and rebuilds it at start).
	Exists, SchemaOK bool
	Checkpoints      map[string]int64
	// Outdated names the projections whose tables have another schema
	// version than this build's (the node rebuilds them at start).
	Outdated map[string]bool
}

// Inspect reports on the read model file at path, read-only: unlike Open,
// it never discards an outdated file.
func Inspect(ctx context.Context, path string) (FileStatus, error) {
	st := FileStatus{Checkpoints: map[string]int64{}, Outdated: map[string]bool{}}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	st.Exists = true
	// Not mode=ro: a read-only connection cannot open a WAL database
	// whose shared-memory file is gone; nothing here writes.
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000&_query_only=1")
	if err != nil {
		return st, err
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return st, fmt.Errorf("read %s: %w", path, err)
	}
	if v != SchemaVersion {
		return st, nil
	}
	st.SchemaOK = true
	versions := map[string]int{}
	vrows, err := db.QueryContext(ctx, "SELECT projection, version FROM projection_schemas")
	if err != nil {
		return st, fmt.Errorf("read projection versions of %s: %w", path, err)
	}
	for vrows.Next() {
		var name string
		var v int
		if err := vrows.Scan(&name, &v); err != nil {
			vrows.Close()
			return st, err
		}
		versions[name] = v
	}
	vrows.Close()
	for _, p := range Projections {
		if v, ok := versions[p]; !ok || v != projectionVersions[p] {
			st.Outdated[p] = true
		}
	}
	rows, err := db.QueryContext(ctx, "SELECT projection, position FROM checkpoints")
	if err != nil {
		return st, fmt.Errorf("read checkpoints of %s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var pos int64
		if err := rows.Scan(&name, &pos); err != nil {
			return st, err
		}
		if !st.Outdated[name] {
			st.Checkpoints[name] = pos
		}
	}
	return st, rows.Err()
}
