// Package datadir guards a node's data directory against a second process.
//
// Raft's bbolt log takes a lock of its own, but a second `agenda serve` on the
// same directory would block on it forever with no explanation, after having
// already opened (and possibly migrated) the SQLite files. Taking an
// exclusive flock on DATA_DIR/LOCK before anything else turns that into an
// immediate, clear error naming the process that holds the directory.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockFile is the name of the lock file inside a data dir.
const LockFile = "LOCK"

// Acquire tries again briefTries times, briefWait apart, before it says a
// dir is in use: 100 ms, far longer than Held holds its lock.
const (
	briefTries = 10
	briefWait  = 10 * time.Millisecond
)

// ErrInUse means another process holds the data dir. The error's text names
// its PID ("data dir in use by PID n").
var ErrInUse = errors.New("data dir in use")

// Lock is an exclusive hold on a data dir, released by Unlock or when the
// process exits (the kernel drops a flock with its file descriptor, so a
// crashed node never leaves a stale lock behind).
type Lock struct {
	f *os.File
}

// Acquire creates dir if needed and locks it without waiting. If another
// process holds it, the error wraps ErrInUse and says which PID.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	// A lock held only for an instant (Held, a backup asking whether a
	// node runs) is waited out: a node starting just then must not fail
	// naming the PID of one long gone.
	for try := 0; ; try++ {
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil || !errors.Is(err, syscall.EWOULDBLOCK) || try == briefTries {
			break
		}
		time.Sleep(briefWait)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w by PID %s (%s)", ErrInUse, holder(path), dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Record who holds it, for the message a second process prints.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Held reports whether a process holds dir, without taking it: a shared
// lock tried on the lock file, opened read-only, and let go at once. The
// file is neither created nor written (Acquire would write its own PID),
// and the moment a node starting meanwhile could find it held is as short
// as the check. A dir without a lock file was never held.
func Held(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, LockFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open lock file: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}

// holder reads the PID recorded in the lock file ("?" if unreadable).
func holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) == "" {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// Unlock releases the data dir. Calling it on a nil Lock, or twice, is safe.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// The file stays: removing it would race with a process that opened it
	// and is about to lock the (then unlinked) inode.
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return f.Close()
}
