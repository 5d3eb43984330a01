package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/audit"
	"github.com/agendahq/agenda/cluster"
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
		return classify(fmt.Errorf("event store: %w", err))
	}
	if sub == "status" {
		return classify(projectionStatus(ctx, os.Stdout, *dir, info, all))
	}
	store, err := eventstore.Open(ctx, storePath)
	if err != nil {
		return classify(err)
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

// backupCmd runs `agenda backup --out FILE`: a consistent copy of the
// event store of the node whose data dir it is given, running or not.
//
// A running node's store is copied only once the node has confirmed that it
// holds every write the cluster acknowledged before the backup began (a
// read index from the leader, applied: cluster.BarrierVia); a review took
// the documented backup on a node just restarted and restored it 50
// acknowledged writes short. A node that cannot (no leader, cut off) is
// refused, exit 6, unless --allow-stale: after losing a majority, what a
// node holds is the best copy there is. A stopped node's store is copied
// as it is, and the command says so.
func backupCmd(args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	dir := dataDirFlag(fs)
	out := fs.String("out", "", "file to write the backup to (must not exist)")
	addr := fs.String("addr", "", "HTTP host:port of the node running on the data dir (default: HTTP_ADDR, with 127.0.0.1 for a wildcard or empty host)")
	secret := fs.String("cluster-hmac-secret", "", "cluster secret (CLUSTER_HMAC_SECRET or CLUSTER_HMAC_SECRET_FILE; a node's development secret in its data dir)")
	allowStale := fs.Bool("allow-stale", false, "copy what a running node holds even if it cannot confirm it holds every acknowledged write (for when the cluster has lost its majority)")
	rest, err := parseOps(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(rest) > 0 {
		return exitWith(exitUsage, errors.New("usage: agenda backup --out FILE [-data-dir DIR] [-allow-stale]"))
	}
	if _, err := os.Stat(*out); err == nil {
		return exitWith(exitRefused, fmt.Errorf("%s already exists; choose a new file", *out))
	}
	// A missing directory is refused, not created: created on the fly, a
	// mistyped or absent backup volume would go unnoticed.
	if d := filepath.Dir(*out); !isDir(d) {
		return exitWith(exitFailed, fmt.Errorf("backup: the directory %s does not exist; create it (or mount it) first", d))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	running, err := datadir.Held(*dir)
	if err != nil {
		return exitWith(exitFailed, fmt.Errorf("backup: %w", err))
	}
	var confirmed cluster.Barrier
	if running {
		b, err := confirmComplete(ctx, *addr, *secret, *dir)
		switch {
		case err == nil:
			confirmed = b
		case cluster.Unavailable(err) && *allowStale:
			fmt.Fprintf(os.Stderr, "agenda backup: warning: the node could not confirm it holds every acknowledged write (%s); copying what it holds (-allow-stale)\n", agenda.ErrorMessage(err))
		case cluster.Unavailable(err):
			return exitWith(exitBehind, fmt.Errorf("backup: the node running on %s could not confirm it holds every write the cluster acknowledged: %s; "+
				"take the backup on a node whose /readyz answers 200, or pass -allow-stale to copy what this one holds (it may lack the latest writes)", *dir, agenda.ErrorMessage(err)))
		default:
			// Not the node's answer: the question did not reach it, or was
			// refused (an address, a secret), or another node answered.
			// Nothing to do with staleness, so -allow-stale does not pass
			// it: a job that always gives it would never hear of a broken
			// secret (a review).
			return exitWith(exitFailed, fmt.Errorf("backup: could not ask the node running on %s to confirm it holds every acknowledged write: %w "+
				"(give its HTTP address with -addr, and the cluster secret with -cluster-hmac-secret or CLUSTER_HMAC_SECRET, as the node has them)", *dir, err))
		}
	}
	info, err := eventstore.Backup(ctx, filepath.Join(*dir, "events.db"), *out)
	if err == nil && info.AppliedIndex < int64(confirmed.Store) {
		// Cannot happen unless the store went back: never hand out a copy
		// that lacks what was confirmed.
		os.Remove(*out)
		return exitWith(exitBehind, fmt.Errorf("backup: the copy holds Raft index %d, short of the %d the node confirmed", info.AppliedIndex, confirmed.Store))
	}
	// The running node named itself when it confirmed: its ID, whether
	// given by NODE_ID or kept in the dir (a review found entries with
	// none, which ?node= then missed).
	e := agenda.AuditEntry{Actor: "cli", Action: "backup.created", Target: *out, Result: agenda.AuditSuccess, NodeID: confirmed.NodeID,
		Details: map[string]any{"events": info.Events, "head": info.Head, "seconds": time.Since(began).Seconds(),
			"running": running, "confirmed_commit": confirmed.Commit}}
	if err != nil {
		e.Result, e.Details["error"] = agenda.AuditFailure, err.Error()
	}
	if _, serr := os.Stat(filepath.Join(*dir, "events.db")); serr == nil {
		// The node's own audit trail; SQLite serialises this with the
		// node. Only in a node's data dir: not an audit.db left in a
		// directory mistaken for one (a review).
		appendCLIAudit(ctx, *dir, e)
	}
	if err != nil {
		return classify(fmt.Errorf("backup: %w", err))
	}
	fmt.Printf("backed up %d events (head %d, %d streams) to %s in %s\n", info.Events, info.Head, info.Streams, *out, time.Since(began).Round(time.Millisecond))
	switch {
	case !running:
		fmt.Printf("the node was stopped: the copy holds what it had applied (Raft index %d); a node that had fallen behind its cluster lacks the cluster's latest writes\n", info.AppliedIndex)
	case confirmed.Commit > 0:
		fmt.Printf("every write the cluster had acknowledged is in it (commit index %d, confirmed through the leader by %s)\n", confirmed.Commit, confirmed.NodeID)
	}
	return nil
}

// confirmComplete asks the node running on dataDir, at addr (default: its
// HTTP_ADDR), to confirm that its event store holds every write the cluster
// has acknowledged. It refuses an answer from another node than the one
// running on dataDir: the incarnation that node's start recorded in the
// dir must be the one it answers (else NODE_ID, or the ID kept in the dir,
// its ID). The README's one-host cluster runs several nodes, and a default
// address names only one.
func confirmComplete(ctx context.Context, addr, secret, dataDir string) (cluster.Barrier, error) {
	key, tlsCfg, err := clusterAccess(secret, dataDir)
	if err != nil {
		return cluster.Barrier{}, err
	}
	if addr == "" {
		a, err := probeAddr(envOr("HTTP_ADDR", ":8080"))
		if err != nil {
			return cluster.Barrier{}, err
		}
		addr = a
		if adv := envOr("ADVERTISE_ADDR", ""); tlsCfg != nil && adv != "" {
			// Dialled locally, the node presents the certificate of the
			// name it advertises (a review found every backup under TLS
			// refused for want of an IP in it).
			if host, _, err := net.SplitHostPort(adv); err == nil {
				tlsCfg = tlsCfg.Clone()
				tlsCfg.ServerName = host
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cluster.BarrierWait+5*time.Second)
	defer cancel()
	b, err := cluster.BarrierVia(ctx, addr, key, tlsCfg)
	if err != nil {
		return b, err
	}
	if inc, ok := recordedIncarnation(dataDir); ok {
		if b.Incarnation != inc {
			return cluster.Barrier{}, fmt.Errorf("the node at %s (%s) is not the one running on %s", addr, b.NodeID, dataDir)
		}
		return b, nil
	}
	want := envOr("NODE_ID", "")
	if want == "" {
		want, _ = keptNodeID(dataDir)
	}
	if want != "" && b.NodeID != want {
		return cluster.Barrier{}, fmt.Errorf("the node at %s is %s, not %s, whose data dir %s is", addr, b.NodeID, want, dataDir)
	}
	return b, nil
}

// restoreCmd runs `agenda restore --from FILE --data-dir DIR`: it prepares
// a new data dir from a backup, from which `agenda serve` starts a new
// single node (or the first node of a new cluster) with the same history.
func restoreCmd(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	dir := dataDirFlag(fs)
	from := fs.String("from", "", "backup file written by agenda backup")
	rest, err := parseOps(fs, args)
	if err != nil {
		return err
	}
	if *from == "" || len(rest) > 0 {
		return exitWith(exitUsage, errors.New("usage: agenda restore --from FILE --data-dir DIR"))
	}
	// A data dir's lock file says whether a node holds it: ask it first, so
	// that a running node's dir is refused as in use (naming the node), not
	// as not empty. Only a dir that already has one is locked this early: a
	// lock taken in any other dir (a typo for a home directory) would leave
	// a LOCK file behind.
	if _, err := os.Stat(filepath.Join(*dir, datadir.LockFile)); err == nil {
		held, err := datadir.Acquire(*dir)
		if err != nil {
			return restoreLockError(err)
		}
		held.Unlock()
	}
	if err := restoreTarget(*dir); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := eventstore.InspectBackup(ctx, *from); err != nil {
		return classify(fmt.Errorf("backup %s: %w", *from, err))
	}
	lock, err := datadir.Acquire(*dir)
	if err != nil {
		return restoreLockError(err)
	}
	defer lock.Unlock()
	// Held now: nothing else can have written into the dir since.
	if err := restoreTarget(*dir); err != nil {
		return err
	}
	info, err := eventstore.PrepareRestore(ctx, *from, filepath.Join(*dir, "events.db"))
	if err != nil {
		return classify(fmt.Errorf("restore: %w", err))
	}
	appendCLIAudit(ctx, *dir, agenda.AuditEntry{Actor: "cli", Action: "backup.restored",
		Target: *dir, Result: agenda.AuditSuccess, Details: map[string]any{"from": *from, "events": info.Events, "head": info.Head, "digest_checked": info.DigestChecked}})
	if !info.DigestChecked {
		fmt.Fprintln(os.Stderr, "agenda restore: the backup records no digest of its events (an older build wrote it): their order and versions were checked, not their contents")
	}
	fmt.Printf("restored %d events (head %d) into %s\nstart it with: DATA_DIR=%s agenda serve\n", info.Events, info.Head, *dir, *dir)
	return nil
}

// restoreTarget refuses a data dir to restore into that holds anything but
// a lock file.
func restoreTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return exitWith(exitFailed, err)
	case slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() != datadir.LockFile }):
		return exitWith(exitRefused, fmt.Errorf("%s exists and is not empty: restore only into a new data dir (move the old one aside first)", dir))
	}
	return nil
}

// restoreLockError is classify for restore: a dir in use is a running
// node's, which restore never replaces.
func restoreLockError(err error) error {
	if errors.Is(err, datadir.ErrInUse) {
		return exitWith(exitInUse, fmt.Errorf("%w: restore only into a new data dir", err))
	}
	return classify(err)
}

// isDir reports whether path names an existing directory.
func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
