package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A data dir an older build left readable is made private at start.
func TestTightenDataDir(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(dir, "raft", "snapshots", "1-2-3")
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(snap, "state.bin"), []byte("events"), 0o644)
	os.WriteFile(filepath.Join(dir, "events.db"), nil, 0o664)
	os.Chmod(dir, 0o755)
	if err := tightenDataDir(dir); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		fi, _ := os.Stat(path)
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %o", path, fi.Mode().Perm())
		}
		return nil
	})
}
