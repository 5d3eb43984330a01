// Package cluster turns Raft nodes into a cluster that runs from one command
// line: signed node-to-node HTTP (sign.go, client.go, handlers.go), the
// agent's rounds (agent.go) of gossip (gossip.go), discovery and bootstrap
// through seeds or DNS (discovery.go, bootstrap.go), the vote gate
// (votegate.go) and dead-voter removal (reaper.go), the member table behind
// /cluster/status (members.go), write forwarding to the leader and
// linearizable reads (forward.go). See DESIGN.md.
package cluster
