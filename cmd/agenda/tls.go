package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// nodeTLS is the node's TLS setup, built from TLS_CERT_FILE, TLS_KEY_FILE
// and TLS_CA_FILE: server for the public listener, client for node-to-node
// HTTP, and both sides of Raft.
type nodeTLS struct {
	server *tls.Config // the HTTP listener
	client *tls.Config // node-to-node HTTP requests
	raft   *tls.Config // Raft connections, both ways
}

// loadTLS loads the certificate and CAs named in c, or returns nil if TLS
// is not configured. A file that is missing, unreadable or not what it
// should be is an error: a node never falls back to plain HTTP.
func loadTLS(c *Config) (*nodeTLS, error) {
	if c.TLSCertFile == "" && c.TLSKeyFile == "" {
		if c.TLSCAFile != "" {
			return nil, errors.New("TLS_CA_FILE is set but TLS_CERT_FILE and TLS_KEY_FILE are not")
		}
		return nil, nil
	}
	if c.TLSCertFile == "" || c.TLSKeyFile == "" {
		return nil, errors.New("TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither")
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS_CERT_FILE %s and TLS_KEY_FILE %s: %w", c.TLSCertFile, c.TLSKeyFile, err)
	}
	var roots *x509.CertPool // nil: the system's
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read TLS_CA_FILE: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS_CA_FILE %s holds no PEM certificate", c.TLSCAFile)
		}
	}
	t := &nodeTLS{
		server: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		client: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		// Raft: the listener presents the node certificate, which the
		// dialer checks against the CAs; the dialer needs none, as the
		// HMAC handshake inside proves it holds the cluster secret, bound
		// to this TLS session.
		raft: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS13},
	}
	return t, nil
}

// The parts of a nodeTLS, nil when TLS is off.
func (t *nodeTLS) forServer() *tls.Config {
	if t == nil {
		return nil
	}
	return t.server
}

func (t *nodeTLS) forClient() *tls.Config {
	if t == nil {
		return nil
	}
	return t.client
}

func (t *nodeTLS) forRaft() *tls.Config {
	if t == nil {
		return nil
	}
	return t.raft
}
