package agenda

import "time"

// AuditEntry is one record of the audit trail: who did what to what, with
// which outcome, on which node. Entries are node-local (each node records
// what it saw and did); see the README, "Audit trail".
type AuditEntry struct {
	ID        int64          `json:"id"`
	At        time.Time      `json:"at"`
	NodeID    string         `json:"node_id"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Result    string         `json:"result"`
	RequestID string         `json:"request_id,omitempty"`
	Details   map[string]any `json:"details"`
}

// AuditQuery filters the audit trail. Zero fields do not filter. Entries
// come newest first; Before (an entry ID) continues a previous page.
type AuditQuery struct {
	Since  time.Time
	Actor  string
	Action string
	Node   string
	Before int64
	Limit  int
}

// Audit results.
const (
	AuditAccepted = "accepted"
	AuditRefused  = "refused"
	AuditSuccess  = "success"
	AuditFailure  = "failure"
)
