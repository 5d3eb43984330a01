// Command agenda runs an Agenda node.
//
//	agenda serve [flags]                         run a node (the default with no subcommand)
//	agenda cluster remove-node -addr h:p <id>    remove a node from the cluster
//	agenda cluster recover -voter id=h:p ...     make the survivors the whole cluster (node stopped)
//	agenda healthcheck [-path /healthz]          exit 0 if the node at HTTP_ADDR answers 200, else 1
//	agenda projections status|rebuild [NAME…]   inspect or rebuild a stopped node's read model
//	agenda backup --out FILE                     back up the event store (node may run)
//	agenda restore --from FILE --data-dir DIR    prepare a new data dir from a backup
//	agenda bench -nodes url,... -scenario create  load a running cluster through its public API
//	agenda help                                  list subcommands
//
// With no configuration at all, `agenda serve` runs a single-node cluster on
// :8080 with its data in ./data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/agendahq/agenda/internal/reqid"
)

func main() {
	// Every command logs as serve does (key=value lines on stderr): the
	// default logger writes through the log package, whose output a
	// dependency (coreos/pkg/capnslog, through raft-wal) takes over at
	// init, and an operations review read the operations commands' lines
	// in its format instead.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	err := run(os.Args[1:])
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "agenda:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the process's exit status for what run returned: 0 (help
// asked for, with -h, is not a failure, as Go's flag package has it), the
// code an exitError carries, or 2 (usage) for any other error.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}

func run(args []string) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args)
	case "cluster":
		return clusterCmd(args)
	case "healthcheck":
		return healthcheck(args)
	case "projections":
		return projectionsCmd(args)
	case "backup":
		return backupCmd(args)
	case "restore":
		return restoreCmd(args)
	case "bench":
		return benchCmd(args, os.Stdout, os.Stderr)
	case "help":
		fmt.Println("usage: agenda [serve] [flags]\n\nsubcommands:\n" +
			"  serve                                     run a node (default)\n" +
			"  cluster remove-node -addr host:port <id>  remove a node (signed with CLUSTER_HMAC_SECRET; any node forwards to the leader)\n" +
			"  cluster recover -voter id=host:port ...   with the node stopped, make the given voters the whole cluster (a majority lost for good)\n" +
			"  healthcheck [-addr host:port] [-path p]   exit 0 if the node at HTTP_ADDR answers 200 (default /healthz), 1 if not\n" +
			"  projections status                        projection positions of a stopped node's data dir\n" +
			"  projections rebuild [NAME…]               rebuild projections of a stopped node (all if none named)\n" +
			"  backup --out FILE                         consistent copy of the (running) node's event store\n" +
			"  restore --from FILE --data-dir DIR        prepare a new data dir from a backup\n" +
			"  bench -nodes url,... [-scenario s] [-c n] load running nodes through the public API (agenda bench -h)\n" +
			"  help                                      this text\n\nagenda serve -h lists the flags.")
		return nil
	}
	return fmt.Errorf("unknown subcommand %q (try: agenda help)", cmd)
}

func serve(args []string) error {
	cfg, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	restrictNewFiles()
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("bad log level %q", cfg.LogLevel)
	}
	logger := slog.New(reqid.Handler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n := &Node{Config: cfg, Logger: logger}
	// A node that cannot start (its port taken, its data dir not its own)
	// or fails exits 1; 2 is for a bad flag or setting, as for every
	// command (a review found every failure told as a usage error).
	if err := n.Open(ctx); err != nil {
		return exitWith(exitFailed, err)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	if err := n.Close(); err != nil {
		return exitWith(exitFailed, err)
	}
	return nil
}
