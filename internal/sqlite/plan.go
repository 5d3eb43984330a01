package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// QueryPlan returns the lines of SQLite's EXPLAIN QUERY PLAN for query with
// args, in order ("SEARCH t USING INDEX i (c=?)", ...). Tests hold the
// statements whose cost must not grow with stored history to their plans
// with it: a partial index, say, serves only a query that names its
// condition, and nothing else shows a plan that drifted.
func QueryPlan(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}
