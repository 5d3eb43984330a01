package main

import (
	"os"
	"strings"
	"testing"
)

// needBootID skips a test of the stores written without fsync on a kernel
// that gives no boot ID: they are synced there, as before.
func needBootID(t *testing.T) {
	t.Helper()
	if _, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err != nil {
		t.Skip("no boot ID on this kernel: the stores are synced as before")
	}
}

// crashMachineUnder plays a crash of the machine under the stopped node's
// store at path, written without fsync: the clean stop left no marker; the
// file's header becomes garbage (tear) and the marker another boot's.
func crashMachineUnder(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path + "-unsynced"); !os.IsNotExist(err) {
		t.Fatalf("%s's marker is still there after a clean stop (%v)", path, err)
	}
	tear(t, path)
	if err := os.WriteFile(path+"-unsynced", []byte("a boot before this one"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tear writes garbage over the header of the SQLite file at path.
func tear(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("torn page ", 10)), 0); err != nil {
		t.Fatal(err)
	}
}
