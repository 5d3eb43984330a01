package main

import (
	"io/fs"
	"os"
	"path/filepath"
)

// tightenDataDir takes group and other access away from everything in the
// data dir. New files are created private (restrictNewFiles, and the
// databases' own modes); this fixes what an older build left readable —
// snapshots hold a copy of every event, password hashes included.
func tightenDataDir(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return os.Chmod(path, perm&^0o077)
		}
		return nil
	})
}
