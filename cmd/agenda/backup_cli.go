package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/cluster"
	"github.com/agendahq/agenda/eventstore"
	"github.com/agendahq/agenda/internal/datadir"
)

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
			fmt.Fprintf(os.Stderr, "agenda backup: warning: the node could not confirm it holds every acknowledged write (%s); copying what it holds (-allow-stale)\n", unconfirmed(err))
		case cluster.Unavailable(err):
			return exitWith(exitBehind, fmt.Errorf("backup: the node running on %s could not confirm it holds every write the cluster acknowledged: %s; "+
				"take the backup on a node whose /readyz answers 200, or pass -allow-stale to copy what this one holds (it may lack the latest writes)", *dir, unconfirmed(err)))
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
		return classify(fmt.Errorf("backup: %w", startFirst(err)))
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

// noLeaderAnswered is what an operator's command that needs the leader says
// when none answered. The node's own words would be raft's "this node is
// not the leader; retry shortly" or "no leader is known; retry shortly",
// which tell an operator whose cluster lost its majority that waiting
// helps (a review).
const noLeaderAnswered = "no leader answered: the node is cut off from the cluster's majority, or the cluster has lost it"

// unconfirmed says why the node could not confirm it holds every
// acknowledged write.
func unconfirmed(err error) string {
	if cluster.NoLeader(err) {
		return noLeaderAnswered
	}
	return agenda.ErrorMessage(err)
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
