package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/cluster"
	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/internal/datadir"
)

// clusterCmd runs `agenda cluster <subcommand>`.
func clusterCmd(args []string) error {
	const usage = "usage: agenda cluster remove-node [-addr host:port] <node-id> | agenda cluster log-end [-data-dir dir] | agenda cluster recover -data-dir dir [-node-id id] -voter id=host:port [-voter ...]"
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(os.Stderr, usage)
		return flag.ErrHelp
	case "remove-node":
		return removeNode(args[1:])
	case "recover":
		return recoverCluster(args[1:])
	case "log-end":
		return logEnd(args[1:])
	}
	return fmt.Errorf("unknown cluster subcommand %q (try: agenda cluster remove-node, agenda cluster log-end, agenda cluster recover)", args[0])
}

// clusterAccess returns what a command needs to sign requests to a node of
// the cluster: the cluster secret (given, else CLUSTER_HMAC_SECRET or its
// _FILE, else the development secret kept in dataDir if one is given) and,
// where the cluster serves HTTPS, the TLS configuration its nodes trust.
func clusterAccess(given, dataDir string) ([]byte, *tls.Config, error) {
	secret := given
	if secret == "" {
		v, err := secretFromEnv("CLUSTER_HMAC_SECRET")
		if err != nil {
			return nil, nil, err
		}
		secret = v
	}
	if secret == "" && dataDir != "" {
		if b, err := os.ReadFile(filepath.Join(dataDir, "secrets", "cluster_hmac_secret")); err == nil {
			secret = strings.TrimSpace(string(b))
		}
	}
	if secret == "" {
		return nil, nil, errors.New("CLUSTER_HMAC_SECRET (or _FILE, or -cluster-hmac-secret) is required")
	}
	var tlsCfg *tls.Config
	if cert := envOr("TLS_CERT_FILE", ""); cert != "" {
		// The cluster serves HTTPS: trust what its nodes trust.
		t, err := loadTLS(&Config{TLSCertFile: cert, TLSKeyFile: envOr("TLS_KEY_FILE", ""), TLSCAFile: envOr("TLS_CA_FILE", "")})
		if err != nil {
			return nil, nil, err
		}
		tlsCfg = t.forClient()
	}
	return []byte(secret), tlsCfg, nil
}

// removeNode asks a node (any: it forwards to the leader) over signed HTTP
// to remove a node from the cluster.
func removeNode(args []string) error {
	fs := flag.NewFlagSet("cluster remove-node", flag.ContinueOnError)
	// Where the other commands look for this node (healthcheck: HTTP_ADDR),
	// unless it advertises another address: a review found the README's
	// local cluster, which sets only HTTP_ADDR, dialled on :8080.
	near := envOr("ADVERTISE_ADDR", "")
	if near == "" {
		near = "127.0.0.1:8080"
		if a, err := probeAddr(envOr("HTTP_ADDR", ":8080")); err == nil {
			near = a
		}
	}
	addr := fs.String("addr", near, "HTTP host:port of any node of the cluster (ADVERTISE_ADDR if set, else this node's HTTP_ADDR)")
	secret := fs.String("cluster-hmac-secret", "", "cluster secret (CLUSTER_HMAC_SECRET or CLUSTER_HMAC_SECRET_FILE)")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: agenda cluster remove-node [-addr host:port] <node-id>")
		fs.PrintDefaults()
	}
	// Flags before or after the node ID, as the other commands take them.
	ids, err := parseOps(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		fs.Usage()
		return exitWith(exitUsage, fmt.Errorf("remove-node takes exactly one node ID (got %d)", len(ids)))
	}
	key, tlsCfg, err := clusterAccess(*secret, "")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	id := ids[0]
	if err := cluster.RemoveVia(ctx, *addr, key, tlsCfg, id); err != nil {
		return exitWith(exitFailed, removeRefusal(id, err))
	}
	fmt.Printf("removed %s\n", id)
	// Say what is left: an operations review removed a running node by
	// mistake and was left with two voters without a word.
	if voters, err := cluster.VotersVia(ctx, *addr, tlsCfg); err == nil {
		fmt.Printf("the cluster's voters are now %s (as %s sees them)\n", strings.Join(voters, ", "), *addr)
		switch len(voters) {
		case 1:
			fmt.Fprintln(os.Stderr, "warning: one voter left: the cluster stops with it; add nodes to make three or more")
		case 2:
			fmt.Fprintln(os.Stderr, "warning: two voters left: the cluster stops if either stops; add a node to make three or more")
		}
	}
	return nil
}

// healthcheck exits 0 if a local endpoint answers 200: the Docker
// HEALTHCHECK of an image without curl.
func healthcheck(args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", "", "host:port to check (default: HTTP_ADDR, with 127.0.0.1 for a wildcard or empty host)")
	path := fs.String("path", "/healthz", "endpoint to check (/healthz: the process runs; /readyz: it can serve)")
	// Every failure is exit 1, Docker's "unhealthy": Docker reserves 2,
	// the other commands' usage error.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitWith(exitFailed, err)
	}
	if fs.NArg() > 0 {
		// "agenda healthcheck host:port" would probe the default address
		// and report on a node that is not the one named (a review).
		return exitWith(exitFailed, fmt.Errorf("healthcheck takes no arguments (got %q); give the address with -addr", fs.Args()))
	}
	if *addr == "" {
		a, err := probeAddr(envOr("HTTP_ADDR", ":8080"))
		if err != nil {
			return exitWith(exitFailed, err)
		}
		*addr = a
	}
	c := &http.Client{Timeout: 3 * time.Second}
	scheme := "http"
	if envOr("TLS_CERT_FILE", "") != "" {
		// The node serves HTTPS. Its certificate names the host others
		// reach it by, not 127.0.0.1; a liveness probe of the local
		// process sends nothing secret, so it does not check it.
		scheme = "https"
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	// url.URL escapes what a raw string would not (an IPv6 zone's %).
	resp, err := c.Get((&url.URL{Scheme: scheme, Host: *addr, Path: *path}).String())
	if err != nil {
		return exitWith(exitFailed, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		// The node says why (/readyz: "no leader known", "catching up"):
		// the operator reads it here rather than curling again.
		var why struct {
			Reason string `json:"reason"`
			Error  struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &why)
		if reason := cmp.Or(why.Reason, why.Error.Message); reason != "" {
			return exitWith(exitFailed, fmt.Errorf("%s answered %d: %s", *path, resp.StatusCode, reason))
		}
		return exitWith(exitFailed, fmt.Errorf("%s answered %d", *path, resp.StatusCode))
	}
	return nil
}

// probeAddr is where healthcheck finds the node that listens on httpAddr:
// its own host, or 127.0.0.1 when it listens on every address (withHost).
func probeAddr(httpAddr string) (string, error) {
	if _, _, err := net.SplitHostPort(httpAddr); err != nil {
		return "", fmt.Errorf("HTTP_ADDR: %w", err)
	}
	return withHost(httpAddr, "127.0.0.1"), nil
}

// voterFlags collects repeated -voter id=host:port.
type voterFlags []consensus.Server

func (v *voterFlags) String() string { return fmt.Sprint(*v) }

func (v *voterFlags) Set(s string) error {
	id, addr, ok := strings.Cut(s, "=")
	if !ok || id == "" || addr == "" {
		return fmt.Errorf("want id=host:port (the node's ID and Raft advertise address), got %q", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("voter %s: %w", id, err)
	}
	*v = append(*v, consensus.Server{ID: id, Address: addr, Suffrage: "Voter"})
	return nil
}

// recoverCluster rewrites a stopped node's Raft configuration to the
// given voters: what to do when a majority of the cluster is gone for good
// (see deploy/README.md, "Losing a majority").
func recoverCluster(args []string) error {
	fs := flag.NewFlagSet("cluster recover", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("DATA_DIR", "./data"), "data directory of the stopped node (DATA_DIR)")
	nodeID := fs.String("node-id", envOr("NODE_ID", ""), "this node's ID (NODE_ID; default: the one kept in the data dir)")
	var voters voterFlags
	fs.Var(&voters, "voter", "a voter of the recovered cluster, as id=raft-host:port; repeat for each survivor, this node included")
	correct := fs.Bool("correct", false, "correct the last recover run on this node, whose -voter list was wrong, before the node started")
	restored := fs.Bool("restored", false, "the data dir was restored from a copy of a volume: start an era of its own, which stops no node of the cluster the copy came from")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: agenda cluster recover [-data-dir dir] [-node-id id] -voter id=host:port [-voter ...]\n\n"+
			"With the node stopped, make the given voters the whole cluster, in a new era. Recover one\n"+
			"survivor, the one whose log goes furthest (agenda cluster log-end on each), and let the\n"+
			"others join it empty: recovered together with logs that end at different entries, the\n"+
			"longer ones stop at start, their last writes lost. Several recovered with the same voters\n"+
			"take the same era.\n"+
			"Entries in this node's log that the lost nodes never acknowledged count as committed. The\n"+
			"nodes left out must not start again with their data: move their data dirs aside first, and\n"+
			"they join as new nodes (one that starts with its data stops once it reaches a survivor,\n"+
			"saying it was left out). A wrong -voter list is corrected before the node starts by running\n"+
			"it again with the right one and -correct. A data dir restored from a copy of a volume takes\n"+
			"-restored. -node-id is needed where the data dir does not hold the ID (a stack's volumes:\n"+
			"the slot's NODE_ID).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || len(voters) == 0 {
		fs.Usage()
		return errors.New("recover takes one or more -voter and no arguments")
	}
	if _, err := os.Stat(filepath.Join(*dataDir, "events.db")); err != nil {
		return exitWith(exitNoStore, fmt.Errorf("no event store in %s: %w", *dataDir, err))
	}
	if *nodeID == "" {
		id, err := keptNodeID(*dataDir)
		if err != nil {
			return exitWith(exitUsage, fmt.Errorf("no -node-id and none kept in the data dir: %w", err))
		}
		*nodeID = id
	}
	ctx := context.Background()
	lock, err := lockStopped(*dataDir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	// A store the machine stopped under is discarded; Recover restores the
	// latest snapshot into it and applies the log.
	store, _, _, err := openEventStore(ctx, *dataDir, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return classify(fmt.Errorf("open event store: %w", err))
	}
	defer store.Close()
	end, err := consensus.InspectLog(filepath.Join(*dataDir, "raft"))
	if err != nil {
		return exitWith(exitFailed, err)
	}
	era, err := consensus.Recover(filepath.Join(*dataDir, "raft"), *nodeID, voters, consensus.RecoverOptions{Correct: *correct, Restored: *restored}, store, nil)
	if err != nil {
		return exitWith(exitFailed, err)
	}
	fmt.Printf("recovered %s (its log ended at entry %d of term %d): the cluster's voters are now %v, in era %s; start the node\n",
		*nodeID, end.Index, end.Term, []consensus.Server(voters), era)
	fmt.Println("other survivors: move their data dirs aside so that they join this node empty (or recover each with the same voters, if agenda cluster log-end shows their logs end where this one's did);\n" +
		"the nodes left out must not start again with their data: move their data dirs aside first, and they join as new nodes\n" +
		"(one that starts with its data is told by the survivors it was left out, and stops)")
	return nil
}

// lockStopped takes the data dir's lock as serve does: the node must be
// stopped.
func lockStopped(dataDir string) (*datadir.Lock, error) {
	lock, err := datadir.Acquire(dataDir)
	if errors.Is(err, datadir.ErrInUse) {
		return nil, exitWith(exitInUse, fmt.Errorf("the node is still running? stop it first: %w", err))
	} else if err != nil {
		return nil, exitWith(exitFailed, err)
	}
	return lock, nil
}

// removeRefusal says why a removal failed: without a leader, that no
// leader answered; the cluster's other refusals in their own words;
// anything else (an unreachable address, a wrong secret) as it is, since
// an operations review found both printed as "internal error".
func removeRefusal(id string, err error) error {
	if cluster.NoLeader(err) {
		return fmt.Errorf("remove %s: %s (a removal needs a leader: after losing a majority, see agenda cluster recover -h)", id, noLeaderAnswered)
	}
	if e := (*agenda.Error)(nil); errors.As(err, &e) && e.Code != agenda.EINTERNAL && e.Message != "" {
		return fmt.Errorf("remove %s: %s", id, e.Message)
	}
	return fmt.Errorf("remove %s: %w", id, err)
}

// logEnd runs `agenda cluster log-end`: how far a stopped node's Raft log
// goes, so that after losing a majority the operator recovers the survivor
// whose log goes furthest and lets the others join it empty.
func logEnd(args []string) error {
	fs := flag.NewFlagSet("cluster log-end", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("DATA_DIR", "./data"), "data directory of the stopped node (DATA_DIR)")
	nodeID := fs.String("node-id", envOr("NODE_ID", ""), "this node's ID, for the output (NODE_ID; default: the one kept in the data dir)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: agenda cluster log-end [-data-dir dir] [-node-id id] [-json]\n\n"+
			"With the node stopped, print the last entry its Raft log holds (index and term), the voters of\n"+
			"its last configuration and its era; it changes nothing (but moves a log an older build kept in\n"+
			"raft.db into the current format, as the node's start would). After losing a majority, run it\n"+
			"on every survivor and recover the one whose log goes furthest: the highest term, then, among\n"+
			"those, the highest index (agenda cluster recover -h).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitWith(exitUsage, errors.New("log-end takes no arguments"))
	}
	raftDir := filepath.Join(*dataDir, "raft")
	if _, err := os.Stat(raftDir); err != nil {
		return exitWith(exitNoStore, fmt.Errorf("no Raft directory in %s: %w", *dataDir, err))
	}
	lock, err := lockStopped(*dataDir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	end, err := consensus.InspectLog(raftDir)
	if err != nil {
		return exitWith(exitFailed, err)
	}
	id := *nodeID
	if id == "" {
		id, _ = keptNodeID(*dataDir)
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(struct {
			NodeID string   `json:"node_id,omitempty"`
			Index  uint64   `json:"index"`
			Term   uint64   `json:"term"`
			Voters []string `json:"voters"`
			Era    string   `json:"era"`
		}{id, end.Index, end.Term, end.Voters, end.Era.String()})
	}
	fmt.Printf("%s: the log ends at entry %d of term %d; voters %v; era %s\n", cmp.Or(id, *dataDir), end.Index, end.Term, end.Voters, end.Era)
	return nil
}
