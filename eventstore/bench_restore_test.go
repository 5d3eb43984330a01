package eventstore_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// BenchmarkPrepareRestore measures a restore from a backup of 1,000,000
// events (AGENDA_BENCH_RESTORE_EVENTS overrides it) shaped like appointment
// creations: the copy, the integrity check and the check of every stream's
// versions. One op is one restore.
func BenchmarkPrepareRestore(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("AGENDA_BENCH_RESTORE_EVENTS")); err == nil && v > 0 {
		n = v
	}
	s, path := mustOpenStoreFile(b)
	next := createBatches(b)
	var index uint64
	for created, done := 0, 0; done < n; {
		var bs []events.Batch
		for ; len(bs) < 512 && done < n; done += 2 {
			bs = append(bs, next(created))
			created++
		}
		index++
		applyBatches(b, s, index, bs)
	}
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
