package main

// Cluster harness: partitions and one-way cuts through the nodes' proxies.

import (
	"github.com/agendahq/agenda/internal/faultproxy"
)

// partition cuts the cluster into sides: every connection from a node on
// one side to a node on another, Raft or HTTP, open or new, is blackholed.
// Nodes on no side are untouched. heal undoes it.
func (tc *testCluster) partition(sides ...[]*clusterNode) {
	side := map[*clusterNode]int{}
	for i, s := range sides {
		for _, n := range s {
			side[n] = i
		}
	}
	for a, sa := range side {
		for b, sb := range side {
			if sa != sb {
				for _, p := range b.proxies() {
					p.Block(a.id)
				}
			}
		}
	}
	for b := range side {
		for _, p := range b.proxies() {
			p.Block(unknownSource)
		}
	}
}

// cutOneWay drops every byte the nodes of from send to the nodes of to —
// Raft and HTTP, on connections either side dialed — while what to sends
// from still arrives: an asymmetric partition. heal undoes it.
func (tc *testCluster) cutOneWay(from, to []*clusterNode) {
	for _, a := range from {
		for _, b := range to {
			for _, p := range b.proxies() {
				p.BlockDir(a.id, faultproxy.Upstream) // a dialed b: a's requests
			}
			for _, p := range a.proxies() {
				p.BlockDir(b.id, faultproxy.Downstream) // b dialed a: a's answers
			}
		}
	}
	for _, b := range to {
		for _, p := range b.proxies() {
			p.Block(unknownSource)
		}
	}
}

// isolate cuts n off from every other node.
func (tc *testCluster) isolate(n *clusterNode) {
	tc.partition([]*clusterNode{n}, othersThan(tc.nodes, n))
}

// heal ends every fault.
func (tc *testCluster) heal() {
	for _, n := range tc.nodes {
		for _, p := range n.proxies() {
			p.Heal()
		}
	}
}

// othersThan returns group without n.
func othersThan(group []*clusterNode, n *clusterNode) []*clusterNode {
	var out []*clusterNode
	for _, m := range group {
		if m != n {
			out = append(out, m)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Clients and writes.
