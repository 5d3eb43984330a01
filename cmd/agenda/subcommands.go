package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/agendahq/agenda/cluster"
)

// clusterCmd runs `agenda cluster <subcommand>`.
func clusterCmd(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: agenda cluster remove-node -addr host:port <node-id>")
	}
	switch args[0] {
	case "remove-node":
		return removeNode(args[1:])
	}
	return fmt.Errorf("unknown cluster subcommand %q (try: agenda cluster remove-node)", args[0])
}

// removeNode asks a node (any: it forwards to the leader) over signed HTTP
// to remove a node from the cluster.
func removeNode(args []string) error {
	fs := flag.NewFlagSet("cluster remove-node", flag.ContinueOnError)
	addr := fs.String("addr", envOr("ADVERTISE_ADDR", "127.0.0.1:8080"), "HTTP host:port of any node of the cluster")
	secret := fs.String("cluster-hmac-secret", "", "cluster secret (CLUSTER_HMAC_SECRET or CLUSTER_HMAC_SECRET_FILE)")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: agenda cluster remove-node [-addr host:port] <node-id>")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("remove-node takes exactly one node ID")
	}
	if *secret == "" {
		v, err := secretFromEnv("CLUSTER_HMAC_SECRET")
		if err != nil {
			return err
		}
		*secret = v
	}
	if *secret == "" {
		return errors.New("CLUSTER_HMAC_SECRET (or _FILE, or -cluster-hmac-secret) is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	id := fs.Arg(0)
	var tlsCfg *tls.Config
	if cert := envOr("TLS_CERT_FILE", ""); cert != "" {
		// The cluster serves HTTPS: trust what its nodes trust.
		t, err := loadTLS(&Config{TLSCertFile: cert, TLSKeyFile: envOr("TLS_KEY_FILE", ""), TLSCAFile: envOr("TLS_CA_FILE", "")})
		if err != nil {
			return err
		}
		tlsCfg = t.forClient()
	}
	if err := cluster.RemoveVia(ctx, *addr, []byte(*secret), tlsCfg, id); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	fmt.Printf("removed %s\n", id)
	return nil
}

// healthcheck exits 0 if a local endpoint answers 200: the Docker
// HEALTHCHECK of an image without curl.
func healthcheck(args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", "", "host:port to check (default: 127.0.0.1 and the port of HTTP_ADDR)")
	path := fs.String("path", "/healthz", "endpoint to check (/healthz: the process runs; /readyz: it can serve)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" {
		_, port, err := net.SplitHostPort(envOr("HTTP_ADDR", ":8080"))
		if err != nil {
			return fmt.Errorf("HTTP_ADDR: %w", err)
		}
		*addr = net.JoinHostPort("127.0.0.1", port)
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
	resp, err := c.Get(scheme + "://" + *addr + *path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", *path, resp.StatusCode)
	}
	return nil
}
