package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/audit"
	"github.com/agendahq/agenda/consensus"
	agendahttp "github.com/agendahq/agenda/http"
	"github.com/agendahq/agenda/projections"
)

// nodeOps is what a node adds for its operators: the audit trail, the Raft,
// projection and forwarding metrics, and the watcher that turns leadership
// and membership changes into audit entries and counters.
type nodeOps struct {
	n     *Node
	audit *audit.Log

	applyLatency     prometheus.Histogram
	applyErrors      prometheus.Counter
	snapshotDuration prometheus.Histogram
	forwarded        *prometheus.CounterVec
	forwardLatency   prometheus.Histogram
	forwardGroups    prometheus.Counter
	groupedWrites    prometheus.Counter
	leaderChanges    prometheus.Counter
}

// newNodeOps opens the node's audit trail (DATA_DIR/audit.db) and builds
// its collectors.
func newNodeOps(ctx context.Context, n *Node) (*nodeOps, error) {
	c := &n.Config
	log, err := audit.Open(ctx, filepath.Join(c.DataDir, "audit.db"), audit.Options{
		NodeID: c.NodeID, Retention: c.AuditRetention, Logger: n.Logger})
	if err != nil {
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	lat := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	o := &nodeOps{
		n:     n,
		audit: log,
		applyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "agenda_raft_apply_duration_seconds",
			Help: "Time from proposing a batch on this node (the leader) to the FSM's answer: commit and apply.", Buckets: lat}),
		applyErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "agenda_raft_apply_errors_total",
			Help: "Proposals on this node that Raft failed (not leader, leadership lost, shutdown)."}),
		snapshotDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "agenda_raft_snapshot_duration_seconds",
			Help: "Time to write a Raft snapshot of the event store.", Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300}}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agenda_forwarded_writes_total",
			Help: "Writes this node forwarded to the leader, by outcome (ok, error)."}, []string{"result"}),
		forwardLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "agenda_forwarded_write_duration_seconds",
			Help: "Round trip of a write forwarded to the leader.", Buckets: lat}),
		forwardGroups: prometheus.NewCounter(prometheus.CounterOpts{Name: "agenda_forwarded_groups_total",
			Help: "Exchanges in which this node sent the leader several queued writes at once."}),
		groupedWrites: prometheus.NewCounter(prometheus.CounterOpts{Name: "agenda_forwarded_grouped_writes_total",
			Help: "Writes this node forwarded to the leader in a group (agenda_forwarded_groups_total) rather than alone."}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "agenda_raft_leader_changes_total",
			Help: "Times this node saw the cluster's leader change (including to none)."}),
	}
	// Both outcomes from the start, at 0: a node that has forwarded
	// nothing yet shows that, rather than no series (a newcomer's
	// walk-through found its dashboard empty).
	for _, result := range []string{"ok", "error"} {
		o.forwarded.WithLabelValues(result)
	}
	return o, nil
}

// httpAudit is the audit trail the HTTP layer records requests in.
func (o *nodeOps) httpAudit() agendahttp.AuditLog {
	if o.n.Config.noHTTPAudit {
		return nil
	}
	return o.audit
}

// raftHooks feeds the Raft metrics and audits snapshots.
func (o *nodeOps) raftHooks() consensus.Hooks {
	return consensus.Hooks{
		Apply: func(took time.Duration, err error) {
			o.applyLatency.Observe(took.Seconds())
			if err != nil {
				o.applyErrors.Inc()
			}
		},
		Snapshot: func(index uint64, took time.Duration, err error) {
			o.snapshotDuration.Observe(took.Seconds())
			e := agenda.AuditEntry{Actor: "raft", Action: "raft.snapshot", Target: fmt.Sprint(index), Result: agenda.AuditSuccess,
				Details: map[string]any{"index": index, "seconds": took.Seconds()}}
			if err != nil {
				e.Result, e.Details["error"] = agenda.AuditFailure, err.Error()
			}
			o.audit.Record(e)
		},
	}
}

func (o *nodeOps) onForward(took time.Duration, err error) {
	o.forwardLatency.Observe(took.Seconds())
	result := "ok"
	if err != nil {
		result = "error"
	}
	o.forwarded.WithLabelValues(result).Inc()
}

// onForwardGroup counts an exchange that carried several queued writes.
func (o *nodeOps) onForwardGroup(batches int) {
	o.forwardGroups.Inc()
	o.groupedWrites.Add(float64(batches))
}

// onRefuse audits a refused node-to-node connection or request (as
// throttled as its log line).
func (o *nodeOps) onRefuse(remote string, suppressed int, attrs []any) {
	details := map[string]any{"remote": remote, "suppressed_since_last": suppressed}
	for i := 0; i+1 < len(attrs); i += 2 {
		details[fmt.Sprint(attrs[i])] = fmt.Sprint(attrs[i+1])
	}
	o.audit.Record(agenda.AuditEntry{Actor: remote, Action: "cluster.auth_refused", Target: o.n.Config.NodeID,
		Result: agenda.AuditRefused, Details: details})
}

// onRebuild audits the end of an online projection rebuild.
func (o *nodeOps) onRebuild(pr projections.RebuildProgress) {
	e := agenda.AuditEntry{Actor: "node", Action: "projection.rebuilt", Target: pr.Projection, Result: agenda.AuditSuccess,
		Details: map[string]any{"mode": "online", "position": pr.Position, "events_per_second": int64(pr.EventsPerSecond)}}
	if pr.FinishedAt != nil {
		e.Details["seconds"] = pr.FinishedAt.Sub(pr.StartedAt).Seconds()
		e.Details["paused_seconds"] = pr.PausedSeconds
	}
	if pr.State != "done" {
		e.Result, e.Details["error"] = agenda.AuditFailure, pr.Error
	}
	o.audit.Record(e)
}

// watch records leadership and membership changes as this node sees them
// (in the audit trail; leadership in the log too), until ctx ends. Raft's
// observer would tell of each flip; polling every 200 ms is enough for an
// audit trail and keeps consensus unaware of it.
func (o *nodeOps) watch(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	var leader, members string
	first := true
	for {
		st := o.n.raft.Status()
		servers := make([]string, 0, len(st.Servers))
		for _, s := range st.Servers {
			servers = append(servers, s.ID+"@"+s.Address+"/"+s.Suffrage)
		}
		slices.Sort(servers)
		m := strings.Join(servers, ",")
		if first {
			o.audit.Record(agenda.AuditEntry{Actor: "node", Action: "node.started", Target: st.NodeID, Result: agenda.AuditSuccess,
				Details: map[string]any{"state": st.State, "term": st.Term, "servers": servers}})
		} else {
			if st.LeaderID != leader {
				o.leaderChanges.Inc()
				// In the log too: an operator's walk-through found a
				// leadership change nowhere but in a metric.
				switch {
				case st.LeaderID == "":
					o.n.Logger.Warn("no leader known", "previous", leader, "term", st.Term, "state", st.State)
				case st.LeaderID == st.NodeID:
					o.n.Logger.Info("this node leads the cluster", "previous", leader, "term", st.Term)
				default:
					o.n.Logger.Info("leader changed", "leader", st.LeaderID, "previous", leader, "term", st.Term)
				}
				o.audit.Record(agenda.AuditEntry{Actor: "raft", Action: "cluster.leader_changed", Target: st.LeaderID, Result: agenda.AuditSuccess,
					Details: map[string]any{"previous": leader, "leader": st.LeaderID, "term": st.Term, "state": st.State}})
			}
			if m != members {
				o.audit.Record(agenda.AuditEntry{Actor: "raft", Action: "cluster.membership_changed", Target: st.NodeID, Result: agenda.AuditSuccess,
					Details: map[string]any{"previous": splitNonEmpty(members), "servers": servers, "term": st.Term}})
			}
		}
		leader, members, first = st.LeaderID, m, false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func splitNonEmpty(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// register adds the node's collectors to reg.
func (o *nodeOps) register(reg *prometheus.Registry) {
	reg.MustRegister(o.applyLatency, o.applyErrors, o.snapshotDuration, o.forwarded, o.forwardLatency, o.forwardGroups, o.groupedWrites, o.leaderChanges, stateCollector{o})
}

// stateCollector reads the node's state at scrape time.
type stateCollector struct{ o *nodeOps }

var (
	descRaftState    = prometheus.NewDesc("agenda_raft_state", "1 for the Raft state this node is in.", []string{"state"}, nil)
	descRaftTerm     = prometheus.NewDesc("agenda_raft_term", "Current Raft term.", nil, nil)
	descCommitIndex  = prometheus.NewDesc("agenda_raft_commit_index", "Raft commit index.", nil, nil)
	descAppliedIndex = prometheus.NewDesc("agenda_raft_applied_index", "Raft applied index.", nil, nil)
	descLogEntries   = prometheus.NewDesc("agenda_raft_log_entries", "Indexes this node's Raft log spans, first to last: between TRAILING_LOGS and about TRAILING_LOGS + the snapshot threshold while snapshots keep up (paced by default: a sixteenth of the last snapshot's index, at least 16384) (after installing a snapshot, a follower counts the gap below it until its next compaction).", nil, nil)
	descHead         = prometheus.NewDesc("agenda_event_store_head", "Position of the last event in this node's event store.", nil, nil)
	descProjPos      = prometheus.NewDesc("agenda_projection_position", "Position a projection has applied up to.", []string{"projection"}, nil)
	descProjLag      = prometheus.NewDesc("agenda_projection_lag", "Events a projection is behind the event store's head.", []string{"projection"}, nil)
	descProjUp       = prometheus.NewDesc("agenda_projection_running", "1 if the projection is running (0: stopped).", []string{"projection"}, nil)
	descRebuild      = prometheus.NewDesc("agenda_projection_rebuild_progress", "Fraction (0–1) of the event store an online rebuild has projected; absent when none runs.", []string{"projection", "state"}, nil)
	descRebuildPos   = prometheus.NewDesc("agenda_projection_rebuild_position", "Position an online rebuild has projected to.", []string{"projection"}, nil)
	descAuditDepth   = prometheus.NewDesc("agenda_audit_queue_depth", "Audit entries waiting to be written.", nil, nil)
	descAuditDropped = prometheus.NewDesc("agenda_audit_dropped_total", "Audit entries dropped because the queue was full.", nil, nil)
	descAuditWritten = prometheus.NewDesc("agenda_audit_written_total", "Audit entries written since the node started.", nil, nil)
)

var raftStates = []string{"Follower", "Candidate", "Leader", "Shutdown"}

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descRaftTerm, descCommitIndex, descAppliedIndex, descLogEntries, descHead, descProjPos,
		descProjLag, descProjUp, descRebuild, descRebuildPos, descAuditDepth, descAuditDropped, descAuditWritten} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.o.n
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if n.raft != nil {
		st := n.raft.Status()
		for _, s := range raftStates {
			v := 0.0
			if strings.EqualFold(st.State, s) {
				v = 1
			}
			gauge(descRaftState, v, s)
		}
		gauge(descRaftTerm, float64(st.Term))
		gauge(descCommitIndex, float64(st.CommitIndex))
		gauge(descAppliedIndex, float64(st.AppliedIndex))
		gauge(descLogEntries, float64(n.raft.LogSpan()))
	}
	if n.store != nil {
		gauge(descHead, float64(n.store.Head()))
	}
	if n.projector != nil {
		for _, s := range n.projector.Status() {
			gauge(descProjPos, float64(s.Position), s.Name)
			gauge(descProjLag, float64(s.Lag), s.Name)
			up := 1.0
			if s.State == "stopped" {
				up = 0
			}
			gauge(descProjUp, up, s.Name)
			if r := s.Rebuild; r != nil {
				frac := 0.0
				if r.Target > 0 {
					frac = min(1, float64(r.Position)/float64(r.Target))
				}
				gauge(descRebuild, frac, s.Name, r.State)
				gauge(descRebuildPos, float64(r.Position), s.Name)
			}
		}
	}
	gauge(descAuditDepth, float64(c.o.audit.QueueDepth()))
	ch <- prometheus.MustNewConstMetric(descAuditDropped, prometheus.CounterValue, float64(c.o.audit.Dropped()))
	ch <- prometheus.MustNewConstMetric(descAuditWritten, prometheus.CounterValue, float64(c.o.audit.Written()))
}

// adminAPI adapts the projector to the HTTP layer's Admin interface.
type adminAPI struct{ n *Node }

func (a adminAPI) Projections() []agendahttp.ProjectionStatus {
	var out []agendahttp.ProjectionStatus
	for _, s := range a.n.projector.Status() {
		out = append(out, agendahttp.ProjectionStatus{Name: s.Name, Position: s.Position, Head: s.Head, Lag: s.Lag,
			State: s.State, LastError: s.LastError, Rebuild: rebuildStatus(s.Rebuild), LastRebuild: rebuildStatus(s.LastRebuild)})
	}
	return out
}

func (a adminAPI) StartRebuild(name string) (agendahttp.RebuildStatus, error) {
	pr, err := a.n.projector.StartRebuild(name)
	if err != nil {
		return agendahttp.RebuildStatus{}, err
	}
	return *rebuildStatus(&pr), nil
}

func rebuildStatus(pr *projections.RebuildProgress) *agendahttp.RebuildStatus {
	if pr == nil {
		return nil
	}
	s := agendahttp.RebuildStatus(*pr)
	return &s
}
