package main

import (
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// dumpReadModel reads every table of a read-model file, each row rendered
// as a line, rows sorted.
func dumpReadModel(t testing.TB, path string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	out := map[string][]string{}
	for _, table := range tables {
		rs, err := db.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		var lines []string
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				parts[i] = fmt.Sprintf("%s=%v", cols[i], v)
			}
			lines = append(lines, strings.Join(parts, " "))
		}
		rs.Close()
		slices.Sort(lines)
		out[table] = lines
	}
	return out
}

// firstDiff renders the first row where a and b differ, each under its
// name.
func firstDiff(a, b []string, aName, bName string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("  %s: %s\n  %s: %s", aName, x, bName, y)
		}
	}
	return ""
}

// readModelDiffs compares two dumps (dumpReadModel) table by table and
// says, for each table that differs, how, with its first differing row.
func readModelDiffs(a, b map[string][]string, aName, bName string) []string {
	var out []string
	tables := slices.Sorted(maps.Keys(a))
	for table := range b {
		if _, ok := a[table]; !ok {
			tables = append(tables, table)
		}
	}
	for _, table := range tables {
		x, y := a[table], b[table]
		if !slices.Equal(x, y) {
			out = append(out, fmt.Sprintf("table %s: %d rows on %s, %d on %s; first difference:\n%s",
				table, len(x), aName, len(y), bName, firstDiff(x, y, aName, bName)))
		}
	}
	return out
}
