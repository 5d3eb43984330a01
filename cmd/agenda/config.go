package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/agendahq/agenda/events"
	agendahttp "github.com/agendahq/agenda/http"
)

// Config is the configuration of `agenda serve`. Every field comes from a
// flag or, failing that, from the environment variable of the same meaning
// (the README's "Configuration" lists them all, with their defaults; API.md
// names the contract's); secrets may also come from
// <NAME>_FILE, as Docker secrets do.
type Config struct {
	NodeID            string
	HTTPAddr          string
	RaftAddr          string
	AdvertiseAddr     string
	RaftAdvertiseAddr string
	DataDir           string
	JWTSecret         string
	ClusterSecret     string
	LogLevel          string
	TokenTTL          time.Duration
	// BootstrapExpect is how many nodes form a new cluster together (0: a
	// node with no seeds and no DNS name bootstraps alone).
	BootstrapExpect int
	// DiscoverySeeds are HTTP host:port of other nodes.
	DiscoverySeeds []string
	// DiscoveryDNSName is resolved to the A records of the other nodes,
	// each combined with this node's HTTP port.
	DiscoveryDNSName string
	// DeadNodeTimeout is how long the leader keeps a voter it cannot reach
	// before removing it (0 disables removal).
	DeadNodeTimeout time.Duration
	// SnapshotThreshold, SnapshotInterval and TrailingLogs tune Raft
	// snapshots (0: consensus defaults); tests lower them.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// BcryptCost is lowered by tests; production keeps the default.
	BcryptCost int
	// EventLevel is the event level this node announces (EVENT_LEVEL;
	// default events.Level): lower, it keeps the cluster writing only
	// forms that builds of that level read, so that a rolling update can
	// still be rolled back.
	EventLevel int
	// DebugAddr, when set, serves net/http/pprof on its own listener, kept
	// off the API port so that it is never exposed by accident.
	DebugAddr string
	// AuditToken (AUDIT_API_TOKEN) opens the admin API to holders of a JWT
	// who also send it as X-Audit-Token; without it the admin API is 404.
	AuditToken string
	// MetricsToken (METRICS_TOKEN), if set, closes GET /metrics to
	// scrapers that do not send it as a bearer token.
	MetricsToken string
	// AuditRetention bounds the age of audit entries (AUDIT_RETENTION).
	AuditRetention time.Duration
	// noHTTPAudit leaves requests unaudited: only for the benchmark that
	// measures what auditing costs.
	noHTTPAudit bool
	// TLSCertFile and TLSKeyFile, when set, make the node serve HTTPS
	// (public API and node-to-node) and encrypt Raft; TLSCAFile names the
	// CAs a node trusts for its peers (default: the system's).
	TLSCertFile string
	TLSKeyFile  string
	TLSCAFile   string
	// HTTPMaxConns and HTTPMaxConnsPerAddr bound the public listener's
	// connections, in all and per client address (0: defaults).
	HTTPMaxConns        int
	HTTPMaxConnsPerAddr int
	// Limits are the rate limits of logins, registrations and password
	// changes; nil means agendahttp.DefaultLimits.
	Limits *agendahttp.Limits
}

// Defaults of the listener's connection limits. The node keeps file
// descriptors for itself beyond them: its stores, Raft, gossip and
// forwarding connections (see listenerLimits).
const (
	defaultMaxConns        = 4096
	defaultMaxConnsPerAddr = 1024
)

// envOr returns the environment variable name, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// envErrs collects environment variables that did not parse, reported by
// parseServeFlags.
var envErrs []error

func envInt(name string, def int) int {
	v := envOr(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		envErrs = append(envErrs, fmt.Errorf("%s: not an integer: %q", name, v))
		return def
	}
	return n
}

// envUint reads a count that cannot be negative, as its flag reads it
// (-snapshot-threshold -1 is refused): a review found SNAPSHOT_THRESHOLD=-1
// taken as 2⁶⁴−1, a Raft log that would never be compacted.
func envUint(name string, def uint64) uint64 {
	v := envOr(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		envErrs = append(envErrs, fmt.Errorf("%s: not a whole number of 0 or more: %q", name, v))
		return def
	}
	return n
}

func envDuration(name string, def time.Duration) time.Duration {
	v := envOr(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		envErrs = append(envErrs, fmt.Errorf("%s: not a duration (like 2m): %q", name, v))
		return def
	}
	return d
}

// MultiNode reports whether the configuration asks for a cluster of more
// than this node.
func (c *Config) MultiNode() bool {
	return c.BootstrapExpect > 1 || len(c.DiscoverySeeds) > 0 || c.DiscoveryDNSName != ""
}

// secretFromEnv reads NAME, or the file named by NAME_FILE.
func secretFromEnv(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if f := os.Getenv(name + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read %s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// parseServeFlags builds a Config from args and the environment.
func parseServeFlags(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.NodeID, "node-id", envOr("NODE_ID", ""), "stable node ID (NODE_ID; default: generated once and kept in the data dir)")
	fs.StringVar(&c.HTTPAddr, "http-addr", envOr("HTTP_ADDR", ":8080"), "HTTP listen address (HTTP_ADDR)")
	fs.StringVar(&c.RaftAddr, "raft-addr", envOr("RAFT_ADDR", "127.0.0.1:7000"), "Raft listen address (RAFT_ADDR)")
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", envOr("ADVERTISE_ADDR", ""), "host:port other nodes use for HTTP (ADVERTISE_ADDR)")
	fs.StringVar(&c.RaftAdvertiseAddr, "raft-advertise-addr", envOr("RAFT_ADVERTISE_ADDR", ""), "host:port other nodes use for Raft (RAFT_ADVERTISE_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", envOr("DATA_DIR", "./data"), "data directory (DATA_DIR)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HS256 secret for client tokens (JWT_SECRET or JWT_SECRET_FILE; default: a development secret kept in the data dir)")
	fs.StringVar(&c.ClusterSecret, "cluster-hmac-secret", "", "secret every Raft connection must prove knowledge of, ≥ 32 characters (CLUSTER_HMAC_SECRET or CLUSTER_HMAC_SECRET_FILE; default: a development secret kept in the data dir)")
	fs.StringVar(&c.LogLevel, "log-level", envOr("LOG_LEVEL", "info"), "debug, info, warn or error (LOG_LEVEL)")
	fs.DurationVar(&c.TokenTTL, "token-ttl", 24*time.Hour, "lifetime of login tokens")
	fs.IntVar(&c.BcryptCost, "bcrypt-cost", 0, "bcrypt cost of password hashes (0: library default)")
	fs.IntVar(&c.BootstrapExpect, "bootstrap-expect", envInt("BOOTSTRAP_EXPECT", 0), "number of nodes that form a new cluster together (BOOTSTRAP_EXPECT; 0: bootstrap alone unless seeds or a DNS name are given)")
	seeds := fs.String("discovery-seeds", envOr("DISCOVERY_SEEDS", ""), "comma-separated HTTP host:port of other nodes (DISCOVERY_SEEDS)")
	fs.StringVar(&c.DiscoveryDNSName, "discovery-dns-name", envOr("DISCOVERY_DNS_NAME", ""), "DNS name whose A records are the other nodes, reached on this node's HTTP port (DISCOVERY_DNS_NAME)")
	fs.DurationVar(&c.DeadNodeTimeout, "dead-node-timeout", envDuration("DEAD_NODE_TIMEOUT", 2*time.Minute), "the leader removes a voter it cannot reach for this long, never going below BOOTSTRAP_EXPECT or 3 voters (DEAD_NODE_TIMEOUT; 0 disables)")
	fs.Uint64Var(&c.SnapshotThreshold, "snapshot-threshold", envUint("SNAPSHOT_THRESHOLD", 0), "Raft entries between snapshots (SNAPSHOT_THRESHOLD; 0: a sixteenth of the last snapshot's index, at least 16384)")
	fs.DurationVar(&c.SnapshotInterval, "snapshot-interval", envDuration("SNAPSHOT_INTERVAL", 0), "how often Raft checks whether to snapshot (SNAPSHOT_INTERVAL; 0: 1s)")
	fs.Uint64Var(&c.TrailingLogs, "trailing-logs", envUint("TRAILING_LOGS", 0), "Raft entries kept behind a snapshot for slow followers (TRAILING_LOGS; 0: 10240)")
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", envOr("TLS_CERT_FILE", ""), "PEM certificate (chain) to serve HTTPS with, public API and node-to-node; Raft is encrypted with it too (TLS_CERT_FILE; default: plain HTTP)")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", envOr("TLS_KEY_FILE", ""), "PEM private key of -tls-cert-file (TLS_KEY_FILE)")
	fs.StringVar(&c.TLSCAFile, "tls-ca-file", envOr("TLS_CA_FILE", ""), "PEM CA certificates a node trusts for its peers' HTTPS and Raft TLS (TLS_CA_FILE; default: the system's)")
	fs.IntVar(&c.HTTPMaxConns, "http-max-conns", envInt("HTTP_MAX_CONNS", defaultMaxConns), "most HTTP connections open at once; more wait to be accepted (HTTP_MAX_CONNS)")
	fs.IntVar(&c.HTTPMaxConnsPerAddr, "http-max-conns-per-addr", envInt("HTTP_MAX_CONNS_PER_ADDR", defaultMaxConnsPerAddr), "most HTTP connections open at once from one client address, or one IPv6 /64; more are closed (HTTP_MAX_CONNS_PER_ADDR)")
	limits := agendahttp.DefaultLimits(runtime.NumCPU())
	rates := []struct {
		dst       *agendahttp.Rate
		flag, env string
		usage     string
	}{
		{&limits.LoginPerUser, "rate-login-user", "RATE_LIMIT_LOGIN_USER", "failed login attempts per username"},
		{&limits.LoginPerAddr, "rate-login-addr", "RATE_LIMIT_LOGIN_ADDR", "login attempts per client address"},
		{&limits.RegisterPerAddr, "rate-register-addr", "RATE_LIMIT_REGISTER_ADDR", "registrations per client address"},
		{&limits.PasswordPerAddr, "rate-password-addr", "RATE_LIMIT_PASSWORD_ADDR", "password changes per client address"},
		{&limits.MembershipPerPair, "rate-membership-pair", "RATE_LIMIT_MEMBERSHIP_PAIR", "group invitations and rank changes from one user to another"},
		{&limits.StreamOpensPerUser, "rate-stream-user", "RATE_LIMIT_STREAM_USER", "live streams (/api/ws) one user opens"},
	}
	for _, r := range rates {
		if v := envOr(r.env, ""); v != "" {
			rt, err := agendahttp.ParseRate(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s: %w", r.env, err))
			}
			*r.dst = rt
		}
		fs.Var(rateFlag{r.dst}, r.flag, r.usage+" on this node, as N/duration or off ("+r.env+")")
	}
	proxies := fs.String("trusted-proxies", envOr("TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client for rate limits (TRUSTED_PROXIES; default: none, the connection's address counts)")
	fs.IntVar(&limits.MaxHashing, "auth-concurrency", envInt("AUTH_CONCURRENCY", limits.MaxHashing), "password hashes (login, registration, password change) computed at once; others wait (AUTH_CONCURRENCY; by default half the CPUs: the default shown is this machine's)")
	c.Limits = limits
	fs.IntVar(&c.EventLevel, "event-level", envInt("EVENT_LEVEL", events.Level), fmt.Sprintf("event level this node announces, %d..%d: below this build's, the cluster keeps writing events as builds of that level did, so that an update can still be rolled back (EVENT_LEVEL; default: this build's)", events.MinLevel, events.Level))
	fs.StringVar(&c.DebugAddr, "debug-addr", envOr("DEBUG_ADDR", ""), "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (DEBUG_ADDR; default: off)")
	fs.StringVar(&c.MetricsToken, "metrics-token", "", "token GET /metrics requires as Authorization: Bearer, at least 32 characters (METRICS_TOKEN or METRICS_TOKEN_FILE; default: none, /metrics is open)")
	fs.StringVar(&c.AuditToken, "audit-api-token", "", "token the admin API (/api/admin/...) requires in X-Audit-Token, besides a JWT (AUDIT_API_TOKEN or AUDIT_API_TOKEN_FILE; default: none, the admin API answers 404)")
	fs.DurationVar(&c.AuditRetention, "audit-retention", envDuration("AUDIT_RETENTION", 90*24*time.Hour), "audit entries older than this are deleted (AUDIT_RETENTION)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, s := range strings.Split(*seeds, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.DiscoverySeeds = append(c.DiscoverySeeds, s)
		}
	}
	for _, p := range strings.Split(*proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return c, fmt.Errorf("TRUSTED_PROXIES: %q is neither an address nor a CIDR", p)
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		limits.TrustedProxies = append(limits.TrustedProxies, prefix.Masked())
	}
	if limits.MaxHashing < 1 {
		return c, fmt.Errorf("AUTH_CONCURRENCY must be at least 1")
	}
	if c.HTTPMaxConns < 1 || c.HTTPMaxConnsPerAddr < 1 {
		return c, fmt.Errorf("HTTP_MAX_CONNS and HTTP_MAX_CONNS_PER_ADDR must be at least 1")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return c, fmt.Errorf("TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither")
	}
	if c.BootstrapExpect < 0 {
		return c, fmt.Errorf("BOOTSTRAP_EXPECT must not be negative")
	}
	if c.EventLevel < events.MinLevel || c.EventLevel > events.Level {
		return c, fmt.Errorf("EVENT_LEVEL must be between %d and %d (this build's), not %d", events.MinLevel, events.Level, c.EventLevel)
	}
	if bad := envErrs; len(bad) > 0 {
		envErrs = nil
		return c, errors.Join(bad...)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, sec := range []struct {
		dst *string
		env string
	}{{&c.JWTSecret, "JWT_SECRET"}, {&c.ClusterSecret, "CLUSTER_HMAC_SECRET"}, {&c.AuditToken, "AUDIT_API_TOKEN"}, {&c.MetricsToken, "METRICS_TOKEN"}} {
		if *sec.dst == "" {
			v, err := secretFromEnv(sec.env)
			if err != nil {
				return c, err
			}
			*sec.dst = v
		}
	}
	return c, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// resolveIdentity fills in the node ID and the secrets that were not
// configured, generating them once and keeping them in the data dir so that
// a restart keeps them (and the tokens already issued stay valid).
func (c *Config) resolveIdentity(logger *slog.Logger) error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if c.NodeID == "" {
		id, created, err := keepFile(filepath.Join(c.DataDir, "node-id"), func() string { return "node-" + randomHex(4) })
		if err != nil {
			return err
		}
		if created {
			logger.Info("generated node ID", "node_id", id)
		}
		c.NodeID = id
	}
	for _, sec := range []struct {
		dst  *string
		file string
		env  string
	}{{&c.JWTSecret, "jwt_secret", "JWT_SECRET"}, {&c.ClusterSecret, "cluster_hmac_secret", "CLUSTER_HMAC_SECRET"}} {
		if *sec.dst != "" {
			continue
		}
		if c.MultiNode() {
			return fmt.Errorf("%s (or %s_FILE) is required when the node is part of a cluster", sec.env, sec.env)
		}
		path := filepath.Join(c.DataDir, "secrets", sec.file)
		v, created, err := keepFile(path, func() string { return randomHex(32) })
		if err != nil {
			return err
		}
		*sec.dst = v
		logger.Warn("using a development secret kept in the data dir; set "+sec.env+" in production", "path", path, "generated", created)
	}
	if len(c.JWTSecret) < 32 {
		return errors.New("JWT secret must be at least 32 characters")
	}
	if len(c.ClusterSecret) < 32 {
		return errors.New("cluster HMAC secret must be at least 32 characters")
	}
	// Anyone may try the metrics token, unthrottled: only its length
	// keeps guessing it out of reach. It is new, so no running cluster
	// holds a shorter one, and refusing to start says so at once.
	if c.MetricsToken != "" && len(c.MetricsToken) < 32 {
		return errors.New("METRICS_TOKEN must be at least 32 characters (e.g. openssl rand -hex 16)")
	}
	// Any logged-in user may try X-Audit-Token, unthrottled: only its
	// length keeps guessing it out of reach, as it does the other secrets.
	// A shorter one (set before this rule) keeps the admin API closed
	// rather than the node down: a rolling update must not fail on it.
	if c.AuditToken != "" && len(c.AuditToken) < 32 {
		logger.Error("AUDIT_API_TOKEN is shorter than 32 characters: the admin API stays closed (404) until it is longer (e.g. openssl rand -hex 16)")
		c.AuditToken = ""
	}
	return nil
}

// keepFile returns the trimmed content of path, creating it with gen() first
// if it does not exist.
func keepFile(path string, gen func() string) (string, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), false, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, err
	}
	v := gen()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(v+"\n"), 0o600); err != nil {
		return "", false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", false, err
	}
	return v, true, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// rateFlag is a flag.Value for an agendahttp.Rate.
type rateFlag struct{ r *agendahttp.Rate }

func (f rateFlag) String() string {
	if f.r == nil {
		return ""
	}
	return f.r.String()
}

func (f rateFlag) Set(s string) error {
	r, err := agendahttp.ParseRate(s)
	if err != nil {
		return err
	}
	*f.r = r
	return nil
}
