package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A database opened Unsynced never calls fsync: not at a commit, not at a
// checkpoint (SQLite's synchronous=OFF). Every write still reaches the
// kernel, in order, before a commit returns, so a crash of the process loses
// nothing: the kernel writes it all back. A crash of the machine is another
// matter: the kernel writes dirty pages back in any order, so a checkpoint
// copied into the file without fsync may survive in part, and the file be
// damaged in ways nothing detects. Only a store that can be thrown away and
// built again may be opened so (the read model, from the event store; the
// event store, from the Raft snapshot and log: consensus/DESIGN.md).
//
// Telling the two crashes apart is what the marker does. Open writes, and
// syncs, a file beside the database holding the kernel's boot ID before
// anything is written unsynced; a clean Close syncs the database and then
// removes the marker. So at Open:
//   - no marker: the database was closed cleanly (or never written
//     unsynced), and every page it holds is on disk;
//   - a marker of this boot: the process stopped without closing (killed,
//     crashed), but the machine did not, and the kernel still holds or has
//     written every page: the file is whole;
//   - a marker of another boot: the machine stopped while the database was
//     being written without fsync. Open fails with ErrUnsyncedAtCrash, and
//     the caller discards the files (RemoveFiles, or puts them aside) and
//     builds them again.
//
// A marker whose content is not this boot's ID whole (a torn write) counts
// as another boot's, so every doubt ends in a rebuild; one that cannot be
// read at all (permissions, I/O) fails Open with that error. Where the kernel gives no boot ID (not Linux, no
// /proc), Unsynced falls back to Normal, and any marker left beside the
// file is doubt. A database opened Normal or Full over another boot's
// marker fails too (it was written unsynced before); one of this boot's it
// leaves in place, unless its Owner opened it (see Owner).
//
// Why: on the write path of one node at 64 clients, the read model's
// checkpoints' fsyncs and the writeback they force cost about a tenth of a
// create (the event store's a few per cent more, and more on three nodes). Interleaved, 10 s each on fresh nodes (2026-12-07): one node
// 4,895–5,072 against 4,225–4,424 creates/s, p99 26–29 against 33–35 ms,
// 0.263–0.277 against 0.293–0.308 CPU-ms a create; three nodes at 64
// clients over all, 1,954–2,042 against 1,743–1,808 creates/s.
const Unsynced Durability = "OFF"

// ErrUnsyncedAtCrash means the database was being written without fsync
// (Unsynced) when the machine last stopped: the file may be damaged.
var ErrUnsyncedAtCrash = errors.New("the machine stopped while the database was written without fsync")

// markerSuffix names the marker Unsynced keeps beside the database.
const markerSuffix = "-unsynced"

// bootIDFile is where Linux gives the ID of the current boot; a variable so
// that tests can play a reboot.
var bootIDFile = "/proc/sys/kernel/random/boot_id"

// bootID returns the kernel's ID of the current boot, or "" if there is
// none to read.
func bootID() string {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// RemoveFiles deletes a database file and every file SQLite and Open keep
// beside it (RemoveBeside).
func RemoveFiles(path string) error { return remove(path, "-wal", "-shm", "", markerSuffix) }

// RemoveBeside deletes the files SQLite and Open keep beside a database
// file, but not the file: its WAL, its shared memory and its marker. A WAL
// left beside another file than its own would be replayed into it.
func RemoveBeside(path string) error { return remove(path, "-wal", "-shm", markerSuffix) }

// remove deletes path+suffix for each suffix, in order (the WAL before its
// database, the marker last, so that an interrupted removal is still
// discarded at the next Open), then syncs the directory.
func remove(path string, suffixes ...string) error {
	for _, suffix := range suffixes {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path+suffix, err)
		}
	}
	return syncDir(filepath.Dir(path))
}

// readMarker reports whether path has a marker of this boot, and fails with
// ErrUnsyncedAtCrash if it has another boot's.
func readMarker(path, boot string) (bool, error) {
	marker := path + markerSuffix
	prev, err := os.ReadFile(marker)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read %s: %w", marker, err)
	case string(prev) != boot:
		return false, fmt.Errorf("%s: %w", path, ErrUnsyncedAtCrash)
	default:
		return true, nil // this boot's: the process stopped, the machine did not
	}
}

// claimUnsynced checks the marker beside path (see Unsynced) and then
// writes this boot's, synced, before anything is written unsynced.
func claimUnsynced(path, boot string) error {
	if _, err := readMarker(path, boot); err != nil {
		return err
	}
	// Written again even if this boot's is there: the claim that wrote it
	// may have failed before its fsync.
	marker := path + markerSuffix
	f, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", marker, err)
	}
	_, err = f.WriteString(boot)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", marker, err)
	}
	return nil
}

// settle makes a closed Unsynced database durable (its file, and its WAL if
// SQLite left one) and then removes the marker. If anything fails the marker
// stays, and a reboot before the next clean close discards the database.
func settle(path string) error {
	for _, p := range []string{path, path + "-wal"} {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
	}
	dir := filepath.Dir(path)
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(path + markerSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path+markerSuffix, err)
	}
	return syncDir(dir)
}

// syncDir makes the directory's entries (a file created, renamed or
// removed) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
