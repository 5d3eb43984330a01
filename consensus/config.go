package consensus

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Config configures a Raft node.
type Config struct {
	// NodeID is the stable identity of this node in the cluster.
	NodeID string
	// Dir holds the Raft log, stable store and snapshots.
	Dir string
	// BindAddr is the TCP address Raft listens on ("127.0.0.1:0" picks a port).
	BindAddr string
	// AdvertiseAddr is the host:port other nodes dial (a DNS name is kept as
	// is); empty means the bound one.
	AdvertiseAddr string
	// Bootstrap makes a node with no Raft state form a single-node cluster
	// when it opens. Leave it false for a node that is to form a cluster
	// with others (Node.Bootstrap) or join one (a leader's AddVoter).
	Bootstrap bool
	// Secret is the cluster secret every Raft connection must prove
	// knowledge of (at least 32 bytes); see StreamLayer.
	Secret []byte
	// TLS, if set, encrypts Raft traffic.
	TLS *tls.Config
	// OnReject is told of every Raft connection refused by the handshake.
	OnReject func(remote, reason string)
	// ServerAddr, if set, returns where server id can be reached now
	// (false: not known, dial the address in the configuration). Raft
	// dials the configuration's addresses, and only a leader can change
	// them: when every node comes back under a new IP, no leader can be
	// elected at the old ones. Looking each server up by ID on every dial
	// (the cluster agent learns the new addresses by gossip) lets the
	// candidates reach each other, elect, and then re-address the
	// configuration.
	ServerAddr func(id string) (string, bool)

	// Timeouts; zero values take the package defaults, tuned for a LAN.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// SnapshotThreshold is the number of entries after which a snapshot is
	// taken and the log compacted; TrailingLogs are kept behind it. Raft
	// checks the threshold every SnapshotInterval to twice that, so the log
	// holds about TrailingLogs + SnapshotThreshold entries at most, plus
	// what is written between two checks and while a snapshot runs (a
	// failed snapshot compacts nothing; the next check tries again).
	// Zero paces snapshots with the history instead: a sixteenth of the
	// last snapshot's index, at least 16,384 (snapshot_pacing.go).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// snapshotFloor is the least paced threshold (tests lower it).
	snapshotFloor uint64
	// Hooks observe proposals and snapshots (hooks.go).
	Hooks Hooks

	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = 250 * time.Millisecond
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = 250 * time.Millisecond
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = 200 * time.Millisecond
	}
	if c.SnapshotThreshold == 0 && c.snapshotFloor == 0 {
		c.snapshotFloor = defaultSnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		// A check is one read of the log's last index. Checked every 30–60
		// s, a node taking 2,000–2,300 writes a second snapshotted every
		// 130,000–140,000 entries instead of 16,384: 300 MB of bbolt file,
		// all of it resident once compaction had walked it. Now a snapshot
		// starts within 1–2 s of the threshold; its cost is per snapshot,
		// not per check, and one copies what the last one compressed
		// (eventstore/snapcache.go).
		c.SnapshotInterval = time.Second
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
