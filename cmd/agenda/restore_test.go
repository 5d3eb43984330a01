package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRestoreLeavesNoLockInAForeignDir: restore refuses a directory that
// holds other files without leaving a LOCK file in it (a mistyped
// --data-dir such as a home directory), and accepts one that holds only a
// lock (left by a restore that failed after taking it).
func TestRestoreLeavesNoLockInAForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, err := runCLI("restore", "--from", filepath.Join(t.TempDir(), "none.db"), "-data-dir", dir); code != exitRefused {
		t.Errorf("restore into a dir with other files: exit %d (%v), want %d", code, err, exitRefused)
	}
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("restore left a lock file in a dir it refused: %v", err)
	}
	onlyLock := t.TempDir()
	if err := os.WriteFile(filepath.Join(onlyLock, "LOCK"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Refused for the backup file that does not exist (exit 4), not for
	// the dir.
	if code, err := runCLI("restore", "--from", filepath.Join(t.TempDir(), "none.db"), "-data-dir", onlyLock); code == exitRefused || code == exitInUse {
		t.Errorf("restore into a dir holding only a lock: exit %d (%v), want it taken", code, err)
	}
}
