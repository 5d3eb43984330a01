package agenda

import "time"

// Ranks are integers in [MinRank, MaxRank]; higher means more senior. The
// creator of a hierarchical group holds MaxRank, so no one can be ranked
// level with or above them. Every member of a flat group has rank 0.
const (
	MinRank = 0
	MaxRank = 1000
)

// Group is a group as its members see it. Members is filled only when one
// group is read.
type Group struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Hierarchical bool      `json:"hierarchical"`
	CreatorID    string    `json:"creator_id"`
	MyRank       int       `json:"my_rank"`
	MemberCount  int       `json:"member_count"`
	Members      []Member  `json:"members,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Version      int64     `json:"version"`
	OriginNode   string    `json:"origin_node"`
}

// Member is one person's membership of a group.
type Member struct {
	UserID     string    `json:"user_id"`
	Username   string    `json:"username"`
	Rank       int       `json:"rank"`
	JoinedAt   time.Time `json:"joined_at"`
	Version    int64     `json:"version"`
	OriginNode string    `json:"origin_node"`
}

// Outranks reports whether a member of rank a is strictly senior to one of
// rank b in this group: never in a flat group.
func (g Group) Outranks(a, b int) bool { return g.Hierarchical && a > b }

// MemberAgenda is one member's entries in a group agenda view.
type MemberAgenda struct {
	UserID   string             `json:"user_id"`
	Username string             `json:"username"`
	Entries  []GroupAgendaEntry `json:"entries"`
}

// GroupAgendaEntry is an entry of a group agenda as the viewer may see it.
// A masked entry has only start, end and busy=true: its AgendaEntry is nil,
// and encoding/json writes none of a nil embedded struct's fields. A
// detailed one embeds the member's agenda entry and has busy=false.
type GroupAgendaEntry struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Busy  bool      `json:"busy"`
	*AgendaEntry
}

// Interval is a half-open span of time [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}
