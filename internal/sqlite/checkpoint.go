package sqlite

import (
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// Checkpoints run beside the writer, not in it.
//
// In WAL mode SQLite copies the log back into the database (a checkpoint)
// from inside the commit that takes the log past wal_autocheckpoint pages
// (1,000 by default): every hundredth or so transaction wrote a thousand
// pages and synced two files before it returned. On the write path that is
// the event store's apply and the read model's projection, which every
// acknowledged write waits for. A checkpointer goroutine now does it every
// checkpointEvery on a reader connection (a query-only connection may
// checkpoint), in PASSIVE mode: it never waits for the writer or a reader,
// and copies what they let it. Pages rewritten many times between two runs
// are copied once.
//
// The writer keeps an automatic checkpoint, at checkpointBackstop pages, as
// a bound on the log should the checkpointer fall behind. Durability is
// SQLite's own either way: who runs a checkpoint changes nothing about what
// a commit has made durable.
//
// BenchmarkCreateAppointment1 and 64, interleaved (2026-12-03): p99 10–11
// → 7–8 ms one client at a time, 2,528–2,538 → 2,687–2,722 creates/s with
// 64 clients; the read model's projection of a single create 329–385 →
// 196–237 µs.
const (
	checkpointEvery    = 100 * time.Millisecond
	checkpointBackstop = 10000
)

// checkpointer runs PASSIVE checkpoints on db until stopped.
type checkpointer struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// startCheckpointer hands checkpoints of the database behind writer to a
// goroutine that runs them on readers.
func startCheckpointer(writer, readers *sql.DB) (*checkpointer, error) {
	if _, err := writer.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", checkpointBackstop)); err != nil {
		return nil, fmt.Errorf("set wal_autocheckpoint: %w", err)
	}
	c := &checkpointer{stop: make(chan struct{}), done: make(chan struct{})}
	go c.run(readers)
	return c, nil
}

func (c *checkpointer) run(readers *sql.DB) {
	defer close(c.done)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			// An error (SQLITE_BUSY while another checkpoint runs, say)
			// leaves the log for the next run or the backstop.
			_, _ = readers.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// close stops the goroutine and waits for it; nil is a no-op.
func (c *checkpointer) close() {
	if c == nil {
		return
	}
	c.once.Do(func() { close(c.stop) })
	<-c.done
}
