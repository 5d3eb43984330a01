package cluster

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"
)

// forgetAfter is how long a member nobody hears from stays in the table.
const forgetAfter = 10 * time.Minute

type target struct{ addr, source string }

func (a *Agent) targets(ctx context.Context) []target {
	seen := map[string]bool{a.cfg.Self.HTTPAddr: true}
	var out []target
	add := func(addr, source string) {
		if addr != "" && !seen[addr] {
			seen[addr] = true
			out = append(out, target{addr, source})
		}
	}
	for _, s := range a.cfg.Seeds {
		add(s, SourceSeed)
	}
	if a.cfg.DNSName != "" {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		hosts, err := a.cfg.Resolver.LookupHost(rctx, a.cfg.DNSName)
		cancel()
		if err != nil {
			a.logger.Debug("discovery DNS lookup failed", "name", a.cfg.DNSName, "err", err)
		}
		for _, h := range hosts {
			add(net.JoinHostPort(h, a.cfg.DNSPort), SourceDNS)
		}
	}
	for _, addr := range a.members.HTTPAddrs() {
		add(addr, SourceGossip)
	}
	return out
}

// gossipMessage is the body of /internal/cluster/gossip, both ways.
type gossipMessage struct {
	Self    Member   `json:"self"`
	Members []Member `json:"members"`
}

func (a *Agent) gossip(ctx context.Context) {
	msg := gossipMessage{Self: a.members.Self(), Members: a.members.All()}
	targets := a.targets(ctx)
	var named []string
	for _, t := range targets {
		if t.source == SourceSeed || t.source == SourceDNS {
			named = append(named, t.addr)
		}
	}
	a.namedMu.Lock()
	a.named = named
	for addr := range a.answered {
		if !slices.Contains(named, addr) {
			delete(a.answered, addr) // bounded by the addresses named now
		}
	}
	a.namedMu.Unlock()
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, max(2*a.cfg.Interval, time.Second))
			defer cancel()
			var resp gossipMessage
			if err := a.call(cctx, AnyNode, t.addr, "/internal/cluster/gossip", msg, &resp); err != nil {
				a.logger.Debug("gossip failed", "addr", t.addr, "err", err)
				return
			}
			a.namedMu.Lock()
			if a.answered == nil {
				a.answered = map[string]time.Time{}
			}
			a.answered[t.addr] = time.Now()
			a.namedMu.Unlock()
			a.absorb(resp, t.source)
		}()
	}
	wg.Wait()
}

// unheard counts the addresses discovery names that have not answered
// since since (whoever answered at them: this node too, named under
// another address, counts as heard).
func (a *Agent) unheard(since time.Time) int {
	a.namedMu.Lock()
	defer a.namedMu.Unlock()
	n := 0
	for _, addr := range a.named {
		if a.answered[addr].Before(since) {
			n++
		}
	}
	return n
}

func (a *Agent) absorb(msg gossipMessage, source string) {
	if msg.Self.ID == "" || msg.Self.ID == a.cfg.Self.ID {
		return
	}
	a.members.Heard(msg.Self, source, time.Now())
	for _, m := range msg.Members {
		if m.ID != msg.Self.ID {
			a.members.Learned(m)
		}
	}
}

// syncRaftMembers adds the voters of the Raft configuration that gossip has
// not named yet, so /cluster/status lists them.
func (a *Agent) syncRaftMembers() {
	servers, err := a.raft.Servers()
	if err != nil {
		return
	}
	for _, s := range servers {
		if _, ok := a.members.Get(s.ID); !ok {
			// Learned fills in the level the node last announced.
			a.members.Learned(Member{ID: s.ID, RaftAddr: s.Address})
			a.members.setSource(s.ID, SourceRaft)
		}
	}
	a.updateLevel()
}

// RaftAddrOf returns where node id said it listens for Raft, as gossip
// last heard (the highest incarnation wins); false if no node has told.
// The Raft transport dials this rather than the configuration's address,
// which may be an address the node had before it was rescheduled: see
// consensus.Config.ServerAddr.
func (a *Agent) RaftAddrOf(id string) (string, bool) {
	m, ok := a.members.Get(id)
	if !ok || m.RaftAddr == "" || m.Incarnation == 0 {
		return "", false
	}
	return m.RaftAddr, true
}
