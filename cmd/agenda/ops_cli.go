package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/audit"
	"github.com/agendahq/agenda/eventstore"
	"github.com/agendahq/agenda/internal/datadir"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// Exit codes of the operations commands (projections, backup, restore),
// for scripts. They are part of the contract; see the README.
const (
	exitFailed   = 1 // the operation failed (I/O, a projection error)
	exitUsage    = 2 // bad flags or arguments, unknown projection
	exitInUse    = 3 // the data dir is locked by a running node
	exitNoStore  = 4 // no usable event store: missing, damaged, another schema
	exitRefused  = 5 // the target exists (restore over a data dir, backup over a file)
	exitBehind   = 6 // backup: the running node could not confirm it holds every acknowledged write
	progressTick = 100 * time.Millisecond
)

// exitError carries the exit code an operations command ends with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitWith(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// classify maps an error of the stores to an exit code.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, datadir.ErrInUse):
		return exitWith(exitInUse, fmt.Errorf("%w: stop the node first (on a running node use GET /api/admin/projections and POST /api/admin/projections/{name}/rebuild)", err))
	case errors.Is(err, eventstore.ErrNotEventStore):
		return exitWith(exitNoStore, err)
	case agenda.ErrorCode(err) == agenda.ENOTFOUND:
		return exitWith(exitUsage, err)
	}
	return exitWith(exitFailed, err)
}

// startFirst says what to do about a store the machine stopped under while
// it was written without fsync: only a node rebuilds it (openEventStore).
func startFirst(err error) error {
	if errors.Is(err, eventstore.ErrUnsyncedAtCrash) {
		return fmt.Errorf("%w: start the node once, which rebuilds the event store from its Raft snapshot and log, then stop it and run this again", err)
	}
	return err
}

// dataDirFlag adds -data-dir (DATA_DIR, default ./data), as serve reads it.
func dataDirFlag(fs *flag.FlagSet) *string {
	return fs.String("data-dir", envOr("DATA_DIR", "./data"), "data directory of the node (DATA_DIR)")
}

// parseOps parses flags placed anywhere among the arguments (`rebuild
// agenda -data-dir d` as well as `rebuild -data-dir d agenda`) and returns
// the arguments that are not flags.
func parseOps(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(os.Stderr)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, exitWith(exitUsage, err)
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// projectionsCmd runs `agenda projections status|rebuild [NAME…]` on a
// stopped node's data dir.
func projectionsCmd(args []string) error {
	if len(args) == 0 || (args[0] != "status" && args[0] != "rebuild") {
		return exitWith(exitUsage, errors.New("usage: agenda projections status | agenda projections rebuild [NAME…] [-data-dir DIR]"))
	}
	sub := args[0]
	fs := flag.NewFlagSet("projections "+sub, flag.ContinueOnError)
	dir := dataDirFlag(fs)
	names, err := parseOps(fs, args[1:])
	if err != nil {
		return err
	}
	if sub == "status" && len(names) > 0 {
		return exitWith(exitUsage, fmt.Errorf("projections status takes no arguments"))
	}
	// A wrong name is a usage error whatever the data dir holds.
	all := projections.All()
	chosen := all
	if len(names) > 0 {
		chosen = nil
		for _, name := range names {
			i := indexOf(all, name)
			if i < 0 {
				return exitWith(exitUsage, fmt.Errorf("no projection %q (known: %s)", name, strings.Join(projectionNames(all), ", ")))
			}
			chosen = append(chosen, all[i])
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := os.Stat(*dir); err != nil {
		return exitWith(exitNoStore, fmt.Errorf("no data dir at %s: %w", *dir, err))
	}
	storePath := filepath.Join(*dir, "events.db")
	// Only a node's data dir is locked: a lock taken in any other (a
	// typo for another directory) would leave a LOCK file behind (a
	// review), as restore avoids too.
	if _, err := os.Stat(storePath); err != nil {
		return exitWith(exitNoStore, fmt.Errorf("no event store in %s: %w", *dir, err))
	}
	lock, err := datadir.Acquire(*dir)
	if err != nil {
		return classify(err)
	}
	defer lock.Unlock()
	info, err := eventstore.Inspect(ctx, storePath)
	if err != nil {
		return classify(startFirst(fmt.Errorf("event store: %w", err)))
	}
	if sub == "status" {
		return classify(projectionStatus(ctx, os.Stdout, *dir, info, all))
	}
	// Read only: synced, so that a crash of the machine meanwhile leaves no
	// doubt about a store that may be the only copy of its history.
	store, err := eventstore.Open(ctx, storePath, eventstore.Synced())
	if err != nil {
		return classify(startFirst(err))
	}
	defer store.Close()
	tty := isTerminal(os.Stdout)
	bars := map[string]*progressBar{}
	for _, proj := range chosen {
		bars[proj.Name()] = &progressBar{out: os.Stdout, tty: tty, name: proj.Name()}
	}
	// Every chosen projection is built into one new file that replaces the
	// old one (projections.RebuildOffline): nothing serves from it meanwhile.
	results, err := projections.RebuildOffline(ctx, store, filepath.Join(*dir, "readmodel.db"), chosen, func(pr projections.RebuildProgress) {
		if b := bars[pr.Projection]; b != nil && pr.State != "done" && pr.State != "failed" {
			b.update(pr)
		}
	})
	for _, pr := range results {
		bars[pr.Projection].finish(pr, err)
		e := agenda.AuditEntry{Actor: "cli", Action: "projection.rebuilt", Target: pr.Projection, Result: agenda.AuditSuccess,
			Details: map[string]any{"mode": "offline", "position": pr.Position, "events_per_second": int64(pr.EventsPerSecond)}}
		if err != nil {
			e.Result, e.Details["error"] = agenda.AuditFailure, err.Error()
		}
		appendCLIAudit(ctx, *dir, e)
	}
	return classify(err)
}

// keptNodeID is the node ID serve generated and kept in data dir dir.
func keptNodeID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "node-id"))
	return strings.TrimSpace(string(b)), err
}

// appendCLIAudit records e, done by the CLI on the stopped node of data dir
// dir, in that node's audit trail, under that node's ID (NODE_ID, or the one
// kept in the dir): ?node= filters by it (a review found the CLI's entries
// under none). A failure to record is said, not fatal.
func appendCLIAudit(ctx context.Context, dir string, e agenda.AuditEntry) {
	if e.NodeID == "" {
		e.NodeID = envOr("NODE_ID", "")
	}
	if e.NodeID == "" {
		e.NodeID, _ = keptNodeID(dir)
	}
	if err := audit.Append(ctx, filepath.Join(dir, "audit.db"), e); err != nil {
		fmt.Fprintln(os.Stderr, "agenda: could not write the audit entry:", err)
	}
}

func indexOf(ps []projections.Projection, name string) int {
	for i, p := range ps {
		if p.Name() == name {
			return i
		}
	}
	return -1
}

func projectionNames(ps []projections.Projection) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name())
	}
	return out
}

// projectionStatus prints each projection's position, the head and the lag.
func projectionStatus(ctx context.Context, w io.Writer, dir string, info eventstore.Info, ps []projections.Projection) error {
	st, err := readmodel.Inspect(ctx, filepath.Join(dir, "readmodel.db"))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "event store: %d events, head %d\n", info.Events, info.Head)
	fmt.Fprintf(w, "%-14s %12s %12s %12s  %s\n", "PROJECTION", "POSITION", "HEAD", "LAG", "STATE")
	for _, p := range ps {
		pos := st.Checkpoints[p.Name()]
		state := "current"
		switch {
		case !st.Exists:
			state = "missing (projected at start)"
		case !st.SchemaOK || st.Outdated[p.Name()]:
			state = "outdated schema (rebuilt at start)"
			pos = 0
		case pos < info.Head:
			state = "behind (catches up at start)"
		case pos > info.Head:
			state = "ahead of the event store (rebuild it)"
		}
		fmt.Fprintf(w, "%-14s %12d %12d %12d  %s\n", p.Name(), pos, info.Head, info.Head-pos, state)
	}
	return nil
}

// progressBar shows a rebuild's progress: a bar redrawn in place on a
// terminal, a plain line every few seconds otherwise (logs, pipes).
type progressBar struct {
	out      io.Writer
	tty      bool
	name     string
	last     time.Time
	lastLine time.Time
}

func (b *progressBar) update(pr projections.RebuildProgress) {
	now := time.Now()
	if b.tty && now.Sub(b.last) < progressTick && pr.State == "building" {
		return
	}
	if !b.tty && now.Sub(b.lastLine) < 2*time.Second {
		return
	}
	b.last, b.lastLine = now, now
	frac := 0.0
	if pr.Target > 0 {
		frac = min(1, float64(pr.Position)/float64(pr.Target))
	}
	eta := "?"
	if pr.EventsPerSecond > 0 && pr.Target >= pr.Position {
		eta = (time.Duration(float64(pr.Target-pr.Position) / pr.EventsPerSecond * float64(time.Second))).Round(time.Second).String()
	}
	if b.tty {
		const width = 30
		filled := int(frac * width)
		bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		fmt.Fprintf(b.out, "\r%-8s [%s] %3.0f%% %d/%d events  %.0f events/s  ETA %s  ", b.name, bar, frac*100, pr.Position, pr.Target, pr.EventsPerSecond, eta)
		return
	}
	fmt.Fprintf(b.out, "rebuild %s: %s %d/%d events (%.0f%%), %.0f events/s, ETA %s\n", b.name, pr.State, pr.Position, pr.Target, frac*100, pr.EventsPerSecond, eta)
}

func (b *progressBar) finish(pr projections.RebuildProgress, err error) {
	if b.tty {
		fmt.Fprint(b.out, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintf(b.out, "rebuild %s: failed at position %d: %v (the old tables are unchanged)\n", b.name, pr.Position, err)
		return
	}
	took := time.Duration(0)
	if pr.FinishedAt != nil {
		took = pr.FinishedAt.Sub(pr.StartedAt)
	}
	fmt.Fprintf(b.out, "rebuilt %s: %d events in %s (%.0f events/s; the switch took %.2fs)\n", b.name, pr.Position, took.Round(time.Millisecond), pr.EventsPerSecond, pr.PausedSeconds)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
