package commands

import (
	"context"
	"fmt"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// batch accumulates the events of one decision.
type batch struct {
	h    *Handlers
	meta events.Meta
	b    events.Batch
	// typed holds b.Events' events as the command made them, index for
	// index: the answer folds them without decoding what it just encoded.
	typed []events.Event
	next  map[string]int64
	err   error
	// level is the cluster's event level as the decision began: the
	// command writes no form above it.
	level int
	// appointment is the appointment as the batch leaves it, for the
	// answer (see answer.go); nil if the command answers no appointment.
	appointment *agenda.Appointment
	// user, group and member are the user, group and membership as the
	// batch leaves them, likewise.
	user   *agenda.User
	group  *agenda.Group
	member *agenda.Member
}

// unchanged is the decision of a command that finds nothing to change:
// no events, and the state it read (set one of the answer fields) as its
// answer, so that the answer is that state and not a later read of it,
// which a write landing meanwhile would have moved on.
func unchanged() *batch { return &batch{} }

// empty says whether b writes nothing: nil, or no events and no error.
func (b *batch) empty() bool { return b == nil || (len(b.b.Events) == 0 && b.err == nil) }

func (h *Handlers) newBatch(ctx context.Context, actor string) *batch {
	return &batch{h: h, meta: events.Meta{
		Time: h.now(), OriginNode: h.NodeID, Actor: actor, CorrelationID: correlationID(ctx),
	}, next: map[string]int64{}, level: h.level()}
}

// expect records that stream must be at version for the batch to commit.
func (b *batch) expect(stream string, version int64) {
	if _, ok := b.next[stream]; ok {
		return
	}
	b.b.Expect = append(b.b.Expect, events.Expectation{Stream: stream, Version: version})
	b.next[stream] = version + 1
}

// clusterReads reports whether every node of the cluster reads typ at
// schema version schema, as of the decision (see Handlers.Level).
func (b *batch) clusterReads(typ string, schema int) bool {
	return events.LevelOf(typ, schema) <= b.level
}

// add appends e to stream, which must have been expected first.
func (b *batch) add(stream string, e events.Event) {
	if b.err != nil {
		return
	}
	v, ok := b.next[stream]
	if !ok {
		b.err = fmt.Errorf("command bug: %s written without an expected version", stream)
		return
	}
	env, err := events.New(b.h.newID(), stream, v, e, b.meta)
	if err != nil {
		b.err = err
		return
	}
	if !b.clusterReads(env.Type, env.SchemaVersion) {
		// A node below its level would halt on it.
		b.err = fmt.Errorf("command bug: %s v%d written while the cluster reads level %d", env.Type, env.SchemaVersion, b.level)
		return
	}
	b.next[stream] = v + 1
	b.b.Events = append(b.b.Events, env)
	b.typed = append(b.typed, e)
}
