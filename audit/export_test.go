package audit

import "context"

// CountRows counts the entries in the trail at path without opening it as
// a Log (which would prune it first).
func CountRows(ctx context.Context, path string, n *int) error {
	db, err := openDB(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Read.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_logs").Scan(n)
}
