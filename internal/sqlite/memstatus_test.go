package sqlite

import (
	"path/filepath"
	"testing"
)

// TestMemStatusIsOff: SQLite keeps no memory statistics in this process
// (memstatus.go), so the memory it counts stays 0 while a database holds
// pages and statements.
func TestMemStatusIsOff(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "test.db"), Normal)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Write.Exec(`CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000))`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Read.QueryRow(`SELECT length(x) FROM t`).Scan(&n); err != nil || n != 100000 {
		t.Fatal(n, err)
	}
	if used := memoryUsed(); used != 0 {
		t.Errorf("SQLite counts %d bytes in use: its memory statistics are on", used)
	}
}
