package agenda

import (
	"maps"
	"time"
	"unicode/utf8"
)

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

// AuditMaxField is the most bytes an entry keeps of each of its text fields
// (actor, action, target, result, request and node IDs); AuditMaxDetail,
// of each text in its details (an error's message may say more than an
// ID). What is cut ends in "…". Most of an entry comes from the request,
// before anything checks it (a login's claimed username, an unknown path,
// path parameters): a review stored 60 KB usernames from refused logins,
// so that the row cap bounded rows but not bytes, and the queue's 16,384
// entries could hold a gigabyte.
const (
	AuditMaxField  = 256
	AuditMaxDetail = 1024
)

// Clipped is e with its text bounded: each field to AuditMaxField bytes,
// each text among its details (at the top level, where the request's words
// go) to AuditMaxDetail. Its details are a copy if any was cut: the caller
// may still hold the map. Whatever keeps entries (the trail, its queue,
// the HTTP layer's held-back refusals) keeps them clipped.
func (e AuditEntry) Clipped() AuditEntry {
	for _, f := range []*string{&e.NodeID, &e.Actor, &e.Action, &e.Target, &e.Result, &e.RequestID} {
		*f = clipText(*f, AuditMaxField)
	}
	var copied map[string]any
	for k, v := range e.Details {
		if s, ok := v.(string); ok && len(s) > AuditMaxDetail {
			if copied == nil {
				copied = maps.Clone(e.Details)
			}
			copied[k] = clipText(s, AuditMaxDetail)
		}
	}
	if copied != nil {
		e.Details = copied
	}
	return e
}

// clipText cuts s to at most n bytes, at a character's start, marking the
// cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
