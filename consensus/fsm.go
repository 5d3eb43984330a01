package consensus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
	"github.com/agendahq/agenda/internal/fastjson"
)

// applyResult is what the FSM returns for a command entry; it travels back to
// the proposer through the ApplyFuture.
type applyResult struct {
	Committed events.Committed
	Err       error
}

// fsm applies committed entries to the event store. It is thin: decoding
// and dispatch here, the log's invariants in eventstore.
type fsm struct {
	store      *eventstore.Store
	logger     *slog.Logger
	onSnapshot func(index uint64, took time.Duration, err error)
	// index is the highest log index ApplyBatch has finished with (applied
	// or skipped as applied before), or that a restored snapshot covers.
	// Raft's own AppliedIndex counts entries handed to the FSM goroutine,
	// not yet applied; reads that must see an index wait on this instead.
	index atomic.Uint64
	// term is the term of the entry at the store's applied index, kept in
	// memory so that every batch can check the log still holds that entry
	// (see checkHistory).
	term atomic.Uint64
	// unproven is the store's applied index while a snapshot the leader
	// installed left the store ahead of it (eventstore.Store.Unproven), 0
	// otherwise: the leader's entries up to that index must show the
	// store's before anything past it is applied.
	unproven atomic.Uint64
	// logs is the Raft log (nil in tests of the FSM alone).
	logs raft.LogStore
	// own says Restore is handed the node's own snapshots (by Recover),
	// not a leader's: they prove nothing about the store (see Restore).
	own bool
	// haltMark is where halt records that the node stopped on an entry it
	// could not apply ("" in tests of the FSM alone): see HoldsHistory.
	haltMark string
}

var _ raft.BatchingFSM = (*fsm)(nil)

// Apply applies one entry; raft uses ApplyBatch instead, but the FSM
// interface requires it.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies a run of committed entries in one SQLite transaction,
// recording the index of the last one with them. Entries at or below the
// recorded index were applied before a restart and are skipped, which is
// what makes application exactly-once (raft replays the log from its last
// snapshot because NoSnapshotRestoreOnStart is set). Each one skipped must
// be the entry the store applied at its index (same term, by the store's
// term trail), and the first entry applied past the store's last must
// follow it (checkHistory): otherwise the node halts, as its store holds
// entries the cluster did not keep.
//
// A storage failure or an entry this build cannot understand panics: the
// replica must stop rather than skip an entry and diverge.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	ctx := context.Background()
	tx, err := f.store.Begin(ctx)
	if err != nil {
		f.halt("begin apply", err)
	}
	defer tx.Rollback()
	applied := tx.Applied()
	defer f.advance(logs[len(logs)-1].Index)
	var terms eventstore.Terms
	if logs[0].Index <= applied {
		// Only replays get here, so the hot path never pays this read.
		if terms, err = tx.Terms(); err != nil {
			f.halt("read the term trail", err)
		}
	}
	var last *raft.Log
	seen := false // whether this batch replayed the store's last entry
	// Decode every new command first, so that the store can look up what
	// all of them need in two statements (Prefetch) instead of per command.
	decoded := make([]decodedEntry, len(logs))
	var batches []events.Batch
	for i, l := range logs {
		if l.Index <= applied {
			// A committed entry never changes: another term than the one
			// the store applied at this index means the log and the store
			// tell two histories (survivors with different logs recovered
			// together, the data dir written by another cluster, or its
			// Raft log replaced), and skipping on would serve the other one
			// as this cluster's.
			if want, ok := terms.At(l.Index); ok && want != 0 && l.Term != want {
				f.halt(fmt.Sprintf("replay entry %d", l.Index), fmt.Errorf(
					"the log has it at term %d, where the history this node's event store applied is at term %d: %s",
					l.Term, want, moveAside))
			}
			seen = seen || l.Index == applied
			// No proposer waits for an entry applied before a restart,
			// but in a store of another history (one that slipped past
			// CheckHistory) the leader's own may: it committed, and this
			// store did not apply it, so its outcome is not known here
			// (a fault review saw it answered as a 500).
			out[i] = applyResult{Err: fmt.Errorf("entry %d applied before restart: %w", l.Index, events.ErrOutcomeUnknown)}
			continue
		}
		if last == nil && !seen {
			f.checkHistory(applied)
		}
		last = l
		if l.Type != raft.LogCommand {
			continue
		}
		decoded[i] = f.decodeCommand(l)
		if decoded[i].err == nil {
			batches = append(batches, decoded[i].batch)
		}
	}
	if len(batches) > 1 {
		if err := tx.Prefetch(batches); err != nil {
			f.halt("look up entries", err)
		}
	}
	for i, l := range logs {
		if l.Index <= applied || l.Type != raft.LogCommand {
			continue
		}
		out[i] = f.applyCommand(tx, l, decoded[i])
	}
	proven := seen && f.unproven.Load() != 0
	if proven {
		if err := tx.SetProven(); err != nil {
			f.halt("record the store proven", err)
		}
	}
	if last == nil && !proven {
		return out
	}
	if last != nil {
		term := f.term.Load()
		for _, l := range logs {
			if l.Index > applied && l.Term != term {
				// The first entry of a term the store applies.
				if err := tx.StartTerm(l.Index, l.Term); err != nil {
					f.halt("record applied term", err)
				}
				term = l.Term
			}
		}
		if err := tx.SetApplied(last.Index, last.Term); err != nil {
			f.halt("record applied index", err)
		}
	}
	if err := tx.Commit(); err != nil {
		f.halt("commit applied entries", err)
	}
	if proven {
		f.unproven.Store(0)
	}
	if last != nil {
		f.term.Store(last.Term)
	}
	return out
}

// moveAside is what a node whose store holds entries the cluster did not
// keep says: what happened, and what to do. Those entries may include
// writes acknowledged before a majority was lost, when the survivors with
// the shorter logs were recovered and went on without this one; by now
// this node's Raft log holds the cluster's entries, so it cannot be
// recovered to keep them: its event store, kept aside, still holds them.
const moveAside = "this node applied entries the cluster's history does not hold (survivors with different logs recovered together, or a data dir of another cluster), and cannot follow it: " +
	"move this data dir aside, and keep it (its event store holds the entries only this node had), so that the node rejoins as a new one. " +
	"After losing a majority, recover only the survivor whose log goes furthest (agenda cluster log-end) and let the others join it empty"

// diverged reports whether err says a snapshot tells another history
// than the store's.
func diverged(err error) bool {
	return errors.Is(err, eventstore.ErrDiverged) || errors.Is(err, eventstore.ErrForeignLineage)
}

// checkHistory halts the node if the Raft log no longer holds, at the
// store's applied index, the entry the store applied there. A committed
// entry never changes, so this only happens when this node applied entries
// that the cluster did not keep: its store tells a history the cluster
// does not (a voter elsewhere lost acknowledged state). Applying on would
// serve a mixture of two histories as if it were one; stopping makes the
// node unready and its reads refused until an operator moves its data aside.
//
// While the store is unproven (a snapshot installed behind it), only the
// leader's entries can prove it, and this batch did not hold the store's
// last one: the leader's entry there is one the state machine never sees
// (a no-op or a barrier) where this store applied a command, or the
// snapshot covers it while applying less than the store did. Either way
// the cluster's history is not the store's.
func (f *fsm) checkHistory(applied uint64) {
	if u := f.unproven.Load(); u != 0 {
		f.halt(fmt.Sprintf("apply after entry %d", applied), fmt.Errorf(
			"the leader's snapshot and log do not hold entry %d as this node applied it: %s", u, moveAside))
	}
	want := f.term.Load()
	if f.logs == nil || applied == 0 || want == 0 {
		return
	}
	var l raft.Log
	if err := f.logs.GetLog(applied, &l); err != nil {
		return // compacted away, or installed by a snapshot
	}
	if l.Term != want {
		f.halt(fmt.Sprintf("apply after entry %d", applied), fmt.Errorf(
			"the log now has entry %d at term %d but this node applied it at term %d: %s",
			applied, l.Term, want, moveAside))
	}
}

// decodedEntry is a command entry decoded: a batch to append, or the
// error every replica answers for these bytes.
type decodedEntry struct {
	batch events.Batch
	// events are batch's events decoded, index for index: the store hands
	// them to the projectors, which need not decode them again.
	events []events.Event
	err    error
}

// decodeCommand decodes a command entry and checks that every event in it
// is one this build knows (an unknown type halts: the build is older than
// the cluster).
func (f *fsm) decodeCommand(l *raft.Log) decodedEntry {
	if len(l.Data) == 0 {
		f.halt(fmt.Sprintf("entry %d", l.Index), errors.New("empty command entry"))
	}
	switch entryType(l.Data[0]) {
	case entryAppendEvents:
		b, err := decodeBatch(l.Data[1:])
		if err != nil {
			// Every replica rejects the same bytes the same way.
			return decodedEntry{err: err}
		}
		evs := make([]events.Event, len(b.Events))
		for i := range b.Events {
			ev, err := b.Events[i].DecodeWith(fastjson.Try)
			if errors.Is(err, events.ErrUnknownType) {
				f.halt(fmt.Sprintf("entry %d", l.Index), err)
			} else if err != nil {
				return decodedEntry{err: err}
			}
			evs[i] = ev
		}
		return decodedEntry{batch: b, events: evs}
	default:
		f.halt(fmt.Sprintf("entry %d", l.Index), fmt.Errorf("unknown entry type %d: this build is older than the cluster", l.Data[0]))
	}
	panic("unreachable")
}

func (f *fsm) applyCommand(tx *eventstore.Tx, l *raft.Log, d decodedEntry) applyResult {
	if d.err != nil {
		return applyResult{Err: d.err}
	}
	c, err := tx.AppendDecoded(d.batch, d.events)
	if err != nil {
		var vc *events.VersionConflictError
		var dup *events.DuplicateEventError
		if errors.As(err, &vc) || errors.As(err, &dup) || errors.Is(err, events.ErrMalformed) || errors.Is(err, events.ErrIllegalTransition) {
			return applyResult{Err: err}
		}
		f.halt(fmt.Sprintf("append entry %d", l.Index), err)
	}
	c.Index = l.Index
	return applyResult{Committed: c}
}

// halt stops the node: continuing past an entry it cannot apply would make
// this replica diverge from the others.
//
// It first records the halt beside the Raft log (haltMark): the store may
// hold entries the log does not (a diverged node, whose store the message
// asks to keep), so it must never be discarded as the Raft log's copy
// (HoldsHistory) until the node has applied an entry again.
func (f *fsm) halt(what string, err error) {
	f.logger.Error("FATAL: raft state machine cannot continue", "step", what, "err", err)
	if f.haltMark != "" {
		if werr := writeSynced(f.haltMark, []byte(fmt.Sprintf("%s: %v\n", what, err))); werr != nil && !errors.Is(werr, fs.ErrExist) {
			f.logger.Error("could not record the halt", "path", f.haltMark, "err", werr)
		}
	}
	panic(fmt.Sprintf("consensus: %s: %v", what, err))
}

// Snapshot pins the event store's current state; Persist streams it while
// the FSM goes on applying.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	sn, err := f.store.Snapshot(context.Background())
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{sn: sn, hook: f.onSnapshot, began: time.Now()}, nil
}

// Restore brings the event store to a snapshot received from the leader
// (eventstore.Store.Install), or, in a recover, to the node's own.
//
// A leader's snapshot of another history halts the node: it can never take
// in the cluster's, and raft would offer it again and again while the node
// sat unready without a word (an operations review saw it retry every
// 10 s).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	restore := f.store.Install
	if f.own {
		restore = f.store.Restore
	}
	if err := restore(context.Background(), rc); err != nil {
		if !f.own && diverged(err) {
			f.halt("restore the leader's snapshot", fmt.Errorf("%w: %s", err, moveAside))
		}
		return err
	}
	return f.load()
}

// load reads what the FSM keeps in memory of the store: its applied index
// and term, and whether a snapshot left it unproven.
func (f *fsm) load() error {
	ctx := context.Background()
	idx, term, err := f.store.Applied(ctx)
	if err != nil {
		return err
	}
	unproven, err := f.store.Unproven(ctx)
	if err != nil {
		return err
	}
	f.advance(idx)
	f.term.Store(term)
	f.unproven.Store(unproven)
	return nil
}

// advance raises the FSM's index to idx (never lowers it).
func (f *fsm) advance(idx uint64) {
	for {
		cur := f.index.Load()
		if idx <= cur || f.index.CompareAndSwap(cur, idx) {
			return
		}
	}
}

type fsmSnapshot struct {
	sn    *eventstore.Snapshot
	hook  func(index uint64, took time.Duration, err error)
	began time.Time
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) (err error) {
	if s.hook != nil {
		defer func() { s.hook(s.sn.AppliedIndex(), time.Since(s.began), err) }()
	}
	if _, err := s.sn.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.sn.Release() }
