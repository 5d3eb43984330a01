package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	for _, tc := range []struct{ name, jwt, cluster string }{
		{"short JWT secret", "short", strings.Repeat("c", 32)},
		{"short cluster secret", strings.Repeat("j", 32), "short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{DataDir: t.TempDir(), NodeID: "n", JWTSecret: tc.jwt, ClusterSecret: tc.cluster}
			if err := c.resolveIdentity(testLogger()); err == nil {
				t.Fatal("accepted a short secret")
			}
		})
	}
}
