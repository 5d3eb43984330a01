package http

import (
	_ "embed"
	"net/http"
	"time"
)

//go:embed openapi.json
var openAPI []byte

// ClusterStatus is the body of GET /cluster/status.
type ClusterStatus struct {
	NodeID       string `json:"node_id"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	LeaderAddr   string `json:"leader_addr"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Position     int64  `json:"position"`
	// Era is the node's era (consensus/era.go), absent for a cluster
	// founded as usual: what an operator compares across nodes after a
	// recover.
	Era string `json:"era,omitempty"`
	// LeftOut, when set, says a cluster recover left this node out
	// (consensus/era.go): it serves nothing and takes no part in Raft.
	LeftOut string `json:"left_out,omitempty"`
	// EventLevel is the cluster's event level as this node counts it:
	// the lowest its servers announce. Commands write no event form
	// above it.
	EventLevel int           `json:"event_level"`
	Nodes      []ClusterNode `json:"nodes"`
}

// ClusterNode is one member of the cluster.
type ClusterNode struct {
	ID       string     `json:"id"`
	Address  string     `json:"address"`
	Suffrage string     `json:"suffrage"`
	LastSeen *time.Time `json:"last_seen"`
	Source   string     `json:"source"`
	// EventLevel is the event level the node announced (1 for one that
	// announced none, or was never heard of).
	EventLevel int `json:"event_level"`
}

// Readiness is the body of GET /readyz. Ready is what /readyz answers;
// CaughtUp, that the node has applied and projected every entry it knows
// committed (Ready may forgive a lag of a moment; the node's own checks of
// what a position can be may not).
type Readiness struct {
	Ready    bool   `json:"-"`
	CaughtUp bool   `json:"-"`
	Status   string `json:"status"`
	Leader   string `json:"leader"`
	Position int64  `json:"position"`
	Head     int64  `json:"head"`
	Reason   string `json:"reason,omitempty"`
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	rd := s.Node.Readiness()
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, rd)
}

func (s *Server) handleClusterStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Node.ClusterStatus())
}

// handleOpenAPI serves the contract, as every API answer is sent (send):
// at 223 KB it outgrows the sockets' buffers.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	writeBody(w, openAPI)
}
