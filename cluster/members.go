package cluster

import (
	"sort"
	"sync"
	"time"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/events"
)

// Sources of a member entry: how this node first learned of it.
const (
	SourceConfig = "config" // this node itself, from its own configuration
	SourceSeed   = "seed"   // answered on an address of DISCOVERY_SEEDS
	SourceDNS    = "dns"    // answered on an address DISCOVERY_DNS_NAME resolved to
	SourceJoin   = "join"   // asked this node to join
	SourceGossip = "gossip" // named by another node
	SourceRaft   = "raft"   // only known from the Raft configuration
)

// Member is what nodes tell each other about a node.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	// Incarnation is the member's start time (Unix ns): a node that
	// restarts with new addresses announces a higher one, and the newer
	// addresses win everywhere.
	Incarnation int64 `json:"incarnation"`
	// HasState and LeaderID are the member's own view, as of LastSeen.
	HasState bool   `json:"has_state"`
	LeaderID string `json:"leader_id,omitempty"`
	// Vote is the node this member endorses to bootstrap a new cluster
	// (see NextVote); empty until it knows BOOTSTRAP_EXPECT nodes.
	Vote string `json:"vote,omitempty"`
	// LastSeen is when some node last heard from the member directly.
	LastSeen time.Time `json:"last_seen"`
	Source   string    `json:"source,omitempty"`
	// History is sent with a join only: how far the joiner's event store
	// goes, which the leader checks against the cluster's.
	History *consensus.History `json:"history,omitempty"`
	// EventLevel is the event level the member's build reads
	// (events.Level, or lower if EVENT_LEVEL pins it); 0 from builds that
	// announce none, which read events.MinLevel.
	EventLevel int `json:"event_level,omitempty"`
	// VoteGated is sent with a join only: the joiner may not vote yet (it
	// has not caught up since starting without Raft state), so the leader
	// adds a new member as a non-voter first (see Agent.admit).
	VoteGated bool `json:"vote_gated,omitempty"`
}

// Members is the table of known nodes, keyed by ID. It is gossip, not
// consensus: the Raft configuration says who votes, this says where to
// reach them over HTTP and when they were last heard of.
type Members struct {
	mu     sync.Mutex
	self   string
	byID   map[string]*memberEntry
	byAddr map[string]string // HTTP address → ID, for seeds and DNS answers
	// levels holds the event level each member announced, with the
	// incarnation that announced it. Unlike byID it outlives Prune: a
	// voter gone quiet for long is still listed by the Raft
	// configuration, and the level it announced still bounds what
	// commands may write (see Level).
	levels map[string]announced
}

// announced is a level as some incarnation of a node announced it. A
// process announces one level for its life, so at one incarnation the
// highest heard is the one: a lower one is hearsay through a node that
// did not pass levels on (an older build drops the field). Incarnation 0
// is a memory of some incarnation, not one: there the lowest holds.
type announced struct {
	incarnation int64
	level       int
}

type memberEntry struct {
	Member
	direct time.Time // when this node last heard from it itself
}

// NewMembers returns a table holding self.
func NewMembers(self Member) *Members {
	self.Source = SourceConfig
	m := &Members{self: self.ID, byID: map[string]*memberEntry{}, byAddr: map[string]string{}, levels: map[string]announced{}}
	m.byID[self.ID] = &memberEntry{Member: self}
	m.byAddr[self.HTTPAddr] = self.ID
	m.levels[self.ID] = announced{self.Incarnation, self.EventLevel}
	return m
}

// Self returns this node's own entry.
func (m *Members) Self() Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byID[m.self].Member
}

// UpdateSelf changes this node's own view (state, leader) as it is
// announced to others.
func (m *Members) UpdateSelf(hasState bool, leaderID string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byID[m.self]
	e.HasState, e.LeaderID, e.LastSeen, e.direct = hasState, leaderID, now, now
}

// SetVote records this node's bootstrap vote.
func (m *Members) SetVote(vote string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byID[m.self].Vote = vote
}

// Heard records what mem said about itself, heard directly at now.
func (m *Members) Heard(mem Member, source string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.merge(mem, source)
	if e == nil {
		return
	}
	if mem.Incarnation >= e.Incarnation {
		e.HasState, e.LeaderID, e.Vote = mem.HasState, mem.LeaderID, mem.Vote
	}
	// Hearing from it on a configured address says more than hearsay.
	if (e.Source == SourceGossip || e.Source == SourceRaft) && source != SourceGossip {
		e.Source = source
	}
	e.LastSeen, e.direct = now, now
}

// Learned records what another node said about mem.
func (m *Members) Learned(mem Member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.merge(mem, SourceGossip); e != nil && mem.LastSeen.After(e.LastSeen) {
		e.LastSeen = mem.LastSeen
	}
}

func (m *Members) merge(mem Member, source string) *memberEntry {
	if mem.ID == "" || mem.ID == m.self {
		return nil
	}
	e, ok := m.byID[mem.ID]
	if !ok {
		e = &memberEntry{Member: Member{ID: mem.ID, Source: source}}
		m.byID[mem.ID] = e
	}
	if !ok || mem.Incarnation > e.Incarnation {
		if e.HTTPAddr != "" && m.byAddr[e.HTTPAddr] == mem.ID {
			delete(m.byAddr, e.HTTPAddr)
		}
		e.RaftAddr, e.HTTPAddr, e.Incarnation = mem.RaftAddr, mem.HTTPAddr, mem.Incarnation
		if mem.HTTPAddr != "" {
			m.byAddr[mem.HTTPAddr] = mem.ID
		}
	}
	// An entry without an incarnation is a configuration's member listed
	// again, which carries a level only if some node remembered one; two
	// such memories may be of different incarnations, so the lower holds.
	switch l, known := m.levels[mem.ID]; {
	case !known || mem.Incarnation > l.incarnation:
		m.levels[mem.ID] = announced{mem.Incarnation, mem.EventLevel}
	case mem.Incarnation == l.incarnation && mem.Incarnation > 0 && mem.EventLevel > l.level,
		mem.Incarnation == l.incarnation && mem.Incarnation == 0 && mem.EventLevel < l.level:
		m.levels[mem.ID] = announced{l.incarnation, mem.EventLevel}
	}
	e.EventLevel = m.levels[mem.ID].level
	return e
}

// Level returns the event level node id reads, as last announced (this
// node's own from its configuration); events.MinLevel for a node that
// announced none or that no node has heard of.
func (m *Members) Level(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(m.levels[id].level, events.MinLevel)
}

// IDs returns the ID of every member in the table, this node's included.
func (m *Members) IDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.byID))
	for id := range m.byID {
		out = append(out, id)
	}
	return out
}

// forgetLevels drops the levels of the nodes that are neither in the
// table nor in keep (the configuration): a removed node's ID taken again
// by a new node counts as unheard of, not at its predecessor's level.
func (m *Members) forgetLevels(keep map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.levels {
		if _, listed := m.byID[id]; !listed && !keep[id] {
			delete(m.levels, id)
		}
	}
}

// Forget drops a member (removed from the cluster).
func (m *Members) Forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id == m.self {
		return
	}
	if e, ok := m.byID[id]; ok {
		delete(m.byAddr, e.HTTPAddr)
		delete(m.byID, id)
	}
	delete(m.levels, id)
}

// HTTPAddr returns the HTTP address of node id, "" if unknown.
func (m *Members) HTTPAddr(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byID[id]; ok {
		return e.HTTPAddr
	}
	return ""
}

// Get returns the entry of node id.
func (m *Members) Get(id string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byID[id]
	if !ok {
		return Member{}, false
	}
	return e.Member, true
}

// All returns every entry, sorted by ID.
func (m *Members) All() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.byID))
	for _, e := range m.byID {
		out = append(out, e.Member)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Direct returns the members (self included) this node heard from itself
// since since, sorted by ID.
func (m *Members) Direct(since time.Time) []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Member
	for _, e := range m.byID {
		if e.ID == m.self || !e.direct.Before(since) {
			out = append(out, e.Member)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// HTTPAddrs returns the HTTP addresses of every other known member.
func (m *Members) HTTPAddrs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.byID {
		if e.ID != m.self && e.HTTPAddr != "" {
			out = append(out, e.HTTPAddr)
		}
	}
	sort.Strings(out)
	return out
}

func (m *Members) setSource(id, source string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byID[id]; ok {
		e.Source = source
	}
}

// Prune forgets the members nobody has heard from since before: removed or
// long-gone nodes do not linger in gossip forever. The Raft configuration's
// members come back at once (they are listed from it).
func (m *Members) Prune(before time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, e := range m.byID {
		if id != m.self && e.LastSeen.Before(before) {
			if m.byAddr[e.HTTPAddr] == id {
				delete(m.byAddr, e.HTTPAddr)
			}
			delete(m.byID, id)
		}
	}
}
