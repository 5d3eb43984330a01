// Package cluster turns Raft nodes into a cluster that runs from one command
// line: signed node-to-node HTTP (sign.go), discovery and bootstrap through
// seeds or DNS (agent.go, discovery.go), the member table behind
// /cluster/status (members.go), write forwarding to the leader and
// linearizable reads (forward.go). See DESIGN.md.
package cluster
