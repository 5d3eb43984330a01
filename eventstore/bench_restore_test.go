//go:build unix

package eventstore_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/agendahq/agenda/eventstore"
)

// BenchmarkPrepareRestore measures a restore from a backup of 1,000,000
// events (AGENDA_BENCH_RESTORE_EVENTS overrides it) shaped like appointment
// creations: the copy, the integrity check and the check of every stream's
// versions. One op is one restore.
func BenchmarkPrepareRestore(b *testing.B) {
	s, path := mustOpenStoreFile(b)
	grower(b, s)(benchEvents("AGENDA_BENCH_RESTORE_EVENTS", 1_000_000))
	dir := b.TempDir()
	backup := filepath.Join(dir, "backup.db")
	if _, err := eventstore.Backup(b.Context(), path, backup); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		dst := filepath.Join(dir, "restored-"+strconv.Itoa(i)+".db")
		if _, err := eventstore.PrepareRestore(b.Context(), backup, dst); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(dst + suffix)
		}
		b.StartTimer()
	}
}
