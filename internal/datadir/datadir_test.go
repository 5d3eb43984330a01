package datadir_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agendahq/agenda/internal/datadir"
)

// A second holder, here another process (flock locks belong to open file
// descriptions, so a second process is the real case), fails at once with
// the PID of the first; after Unlock the dir can be taken again.
func TestLockRefusesSecondProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHelperAcquire$")
	cmd.Env = append(os.Environ(), "AGENDA_LOCK_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second process locked a held data dir: %s", out)
	}
	want := fmt.Sprintf("data dir in use by PID %d", os.Getpid())
	if !strings.Contains(string(out), want) {
		t.Fatalf("second process said %q, want it to contain %q", out, want)
	}
	// Within one process a second open file description conflicts too.
	if _, err := datadir.Acquire(dir); !errors.Is(err, datadir.ErrInUse) {
		t.Fatalf("second Acquire: got %v, want ErrInUse", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	l2, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatalf("acquire after unlock: %v", err)
	}
	l2.Unlock()
	l2.Unlock() // twice is fine
}

// TestHelperAcquire is run as a child process by the test above.
func TestHelperAcquire(t *testing.T) {
	dir := os.Getenv("AGENDA_LOCK_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	if _, err := datadir.Acquire(dir); err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
}

// TestHeldNeitherTakesNorWrites: Held tells a held dir from a free one
// without taking it or writing the lock file (Acquire writes its PID there:
// a backup that asked that way left its own PID behind), and says a dir
// without a lock file is free without creating one.
func TestHeldNeitherTakesNorWrites(t *testing.T) {
	dir := t.TempDir()
	if held, err := datadir.Held(dir); err != nil || held {
		t.Fatalf("Held of a dir never locked = %v, %v; want false", held, err)
	}
	if _, err := os.Stat(filepath.Join(dir, datadir.LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Held created the lock file: %v", err)
	}
	l, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, datadir.LockFile))
	if held, err := datadir.Held(dir); err != nil || !held {
		t.Fatalf("Held of a held dir = %v, %v; want true", held, err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, datadir.LockFile)); string(after) != string(before) {
		t.Errorf("Held changed the lock file from %q to %q", before, after)
	}
	l.Unlock()
	if held, err := datadir.Held(dir); err != nil || held {
		t.Fatalf("Held after Unlock = %v, %v; want false", held, err)
	}
	// And it left the dir free to take.
	l2, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Held: %v", err)
	}
	l2.Unlock()
}

// TestAcquireWaitsOutABriefHold: a lock held for an instant, as Held holds
// one, does not make a node starting just then fail (a review made one fail
// naming the PID of a node long gone).
func TestAcquireWaitsOutABriefHold(t *testing.T) {
	dir := t.TempDir()
	l, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	f, err := os.Open(filepath.Join(dir, datadir.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}()
	l, err = datadir.Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire while another held the lock for 30 ms: %v", err)
	}
	l.Unlock()
}
