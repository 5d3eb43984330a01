package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agendahq/agenda/events"
	agendahttp "github.com/agendahq/agenda/http"
	"github.com/agendahq/agenda/readmodel"
)

func TestSecretsFromEnvironmentAndFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cluster")
	if err := os.WriteFile(file, []byte("cluster-secret-from-a-docker-secret-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JWT_SECRET", "jwt-secret-from-the-environment-0123456789")
	t.Setenv("CLUSTER_HMAC_SECRET", "")
	t.Setenv("CLUSTER_HMAC_SECRET_FILE", file)
	c, err := parseServeFlags([]string{"-data-dir", dir})
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTSecret != "jwt-secret-from-the-environment-0123456789" {
		t.Errorf("JWT secret = %q, want the environment's", c.JWTSecret)
	}
	if c.ClusterSecret != "cluster-secret-from-a-docker-secret-file" {
		t.Errorf("cluster secret = %q, want the file's, trimmed", c.ClusterSecret)
	}
}

func TestDevelopmentSecretsAreGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	c := Config{DataDir: dir}
	if err := c.resolveIdentity(testLogger()); err != nil {
		t.Fatal(err)
	}
	again := Config{DataDir: dir}
	if err := again.resolveIdentity(testLogger()); err != nil {
		t.Fatal(err)
	}
	if c.NodeID == "" || c.JWTSecret == "" || c.ClusterSecret == "" {
		t.Fatalf("identity not filled in: %+v", c)
	}
	if again.NodeID != c.NodeID || again.JWTSecret != c.JWTSecret || again.ClusterSecret != c.ClusterSecret {
		t.Errorf("a restart got another identity: %+v, then %+v", c, again)
	}
	if c.JWTSecret == c.ClusterSecret {
		t.Error("the JWT and cluster secrets are the same")
	}
}

func TestShortSecretsAreRefused(t *testing.T) {
	for _, tc := range []struct{ name, jwt, cluster, audit string }{
		{"short JWT secret", "short", strings.Repeat("c", 32), ""},
		{"short cluster secret", strings.Repeat("j", 32), "short", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{DataDir: t.TempDir(), NodeID: "n", JWTSecret: tc.jwt, ClusterSecret: tc.cluster, AuditToken: tc.audit}
			if err := c.resolveIdentity(testLogger()); err == nil {
				t.Fatal("accepted a short secret")
			}
		})
	}
	// Anyone may try the metrics token: a short one is refused at start.
	for _, tc := range []struct {
		token string
		ok    bool
	}{{strings.Repeat("m", 31), false}, {strings.Repeat("m", 32), true}, {"", true}} {
		c := Config{DataDir: t.TempDir(), NodeID: "n", JWTSecret: strings.Repeat("j", 32), ClusterSecret: strings.Repeat("c", 32), MetricsToken: tc.token}
		if err := c.resolveIdentity(testLogger()); (err == nil) != tc.ok {
			t.Errorf("metrics token of %d characters: %v, want accepted %v", len(tc.token), err, tc.ok)
		}
	}
	// Any logged-in user may try X-Audit-Token (an attacker's review): a
	// short one keeps the admin API closed, and the node up.
	for _, tc := range []struct {
		token string
		open  bool
	}{{strings.Repeat("a", 31), false}, {strings.Repeat("a", 32), true}} {
		c := Config{DataDir: t.TempDir(), NodeID: "n", JWTSecret: strings.Repeat("j", 32), ClusterSecret: strings.Repeat("c", 32), AuditToken: tc.token}
		if err := c.resolveIdentity(testLogger()); err != nil {
			t.Fatalf("audit token of %d characters: %v", len(tc.token), err)
		}
		if open := c.AuditToken != ""; open != tc.open {
			t.Errorf("audit token of %d characters: admin API open %v, want %v", len(tc.token), open, tc.open)
		}
	}
}

func TestClusterSettingsFromEnvironment(t *testing.T) {
	t.Setenv("BOOTSTRAP_EXPECT", "3")
	t.Setenv("DISCOVERY_SEEDS", " 10.0.0.1:8080, agenda-2:8080 ,,")
	t.Setenv("DISCOVERY_DNS_NAME", "tasks.agenda")
	t.Setenv("DEAD_NODE_TIMEOUT", "45s")
	t.Setenv("SNAPSHOT_THRESHOLD", "64")
	c, err := parseServeFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.BootstrapExpect != 3 || c.DiscoveryDNSName != "tasks.agenda" || c.DeadNodeTimeout.String() != "45s" || c.SnapshotThreshold != 64 {
		t.Errorf("config = %+v", c)
	}
	if strings.Join(c.DiscoverySeeds, "|") != "10.0.0.1:8080|agenda-2:8080" {
		t.Errorf("seeds = %q", c.DiscoverySeeds)
	}
	if !c.MultiNode() {
		t.Error("not multi-node")
	}
	// A flag wins over the environment.
	if c, err = parseServeFlags([]string{"-bootstrap-expect", "5"}); err != nil || c.BootstrapExpect != 5 {
		t.Errorf("flag: %d, %v", c.BootstrapExpect, err)
	}
	t.Setenv("BOOTSTRAP_EXPECT", "three")
	if _, err := parseServeFlags(nil); err == nil || !strings.Contains(err.Error(), "BOOTSTRAP_EXPECT") {
		t.Errorf("bad BOOTSTRAP_EXPECT: err = %v", err)
	}
	t.Setenv("BOOTSTRAP_EXPECT", "3")
	// Counts that cannot be negative are refused so, as their flags refuse
	// them (a review found -1 wrapped around to 2⁶⁴−1).
	for _, name := range []string{"SNAPSHOT_THRESHOLD", "TRAILING_LOGS"} {
		t.Setenv(name, "-1")
		if _, err := parseServeFlags(nil); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=-1: err = %v, want it refused", name, err)
		}
		t.Setenv(name, "")
	}
}

func TestMultiNodeNeedsConfiguredSecrets(t *testing.T) {
	c := Config{DataDir: t.TempDir(), NodeID: "n", JWTSecret: strings.Repeat("j", 32), DiscoverySeeds: []string{"other:8080"}}
	err := c.resolveIdentity(testLogger())
	if err == nil || !strings.Contains(err.Error(), "CLUSTER_HMAC_SECRET") {
		t.Fatalf("err = %v, want CLUSTER_HMAC_SECRET required", err)
	}
}

func TestEventLevelFromEnvironment(t *testing.T) {
	c, err := parseServeFlags(nil)
	if err != nil || c.EventLevel != events.Level {
		t.Fatalf("default: %d, %v; want this build's level %d", c.EventLevel, err, events.Level)
	}
	t.Setenv("EVENT_LEVEL", "1")
	if c, err := parseServeFlags(nil); err != nil || c.EventLevel != 1 {
		t.Errorf("EVENT_LEVEL=1: %d, %v", c.EventLevel, err)
	}
	for _, bad := range []string{"0", "-1", fmt.Sprint(events.Level + 1), "two"} {
		t.Setenv("EVENT_LEVEL", bad)
		if _, err := parseServeFlags(nil); err == nil || !strings.Contains(err.Error(), "EVENT_LEVEL") {
			t.Errorf("EVENT_LEVEL=%s: err = %v, want one naming EVENT_LEVEL", bad, err)
		}
	}
}

// A logged-out token must stay refused for as long as it is accepted past
// its expiry: the read model keeps its revocation longer than the leeway.
func TestRevocationsOutliveTheTokenLeeway(t *testing.T) {
	if readmodel.RevocationGrace <= agendahttp.TokenLeeway {
		t.Fatalf("revocations are kept %v past expiry, tokens accepted %v past it", readmodel.RevocationGrace, agendahttp.TokenLeeway)
	}
}
