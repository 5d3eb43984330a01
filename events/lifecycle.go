package events

import (
	"errors"
	"fmt"
	"strings"
)

// ErrIllegalTransition means a batch is well formed and its expectations
// hold, but an event cannot follow what its stream already holds: an
// appointment updated after it was deleted, a stream that does not start
// with its creation event. Every replica refuses it the same way, so such an
// event never commits and no projection ever meets it.
var ErrIllegalTransition = errors.New("event not allowed in its stream's state")

// lifecycle is the shape every stream of one kind must have.
type lifecycle struct {
	// prefix names the kind (see the *Stream functions).
	prefix string
	// first is the type the stream must start with.
	first string
	// last, if set, ends the stream: nothing may follow it.
	last string
}

// lifecycles are the kinds of stream that have a beginning and an end;
// streams of other kinds (a user's agenda, notifications) take any event.
var lifecycles = []lifecycle{
	{prefix: "appointment-", first: "appointment.created", last: "appointment.deleted"},
	{prefix: "group-", first: "group.created", last: "group.deleted"},
	{prefix: "user-", first: "user.registered"},
}

func lifecycleOf(stream string) (lifecycle, bool) {
	for _, l := range lifecycles {
		if strings.HasPrefix(stream, l.prefix) {
			return l, true
		}
	}
	return lifecycle{}, false
}

// CheckLifecycle checks that every event of b may follow what its stream
// holds. lastType gives the type of the last event of each stream b
// expects to exist ("" or absent for a new stream). It returns a wrapped
// ErrIllegalTransition. Call it after the expectations were checked, so
// that lastType describes the streams at the versions b expects.
func (b *Batch) CheckLifecycle(lastType map[string]string) error {
	last := make(map[string]string, len(b.Expect))
	for _, x := range b.Expect {
		if x.Version > 0 {
			last[x.Stream] = lastType[x.Stream]
		}
	}
	for i := range b.Events {
		e := &b.Events[i]
		l, ok := lifecycleOf(e.Stream)
		if !ok {
			continue
		}
		prev := last[e.Stream]
		switch {
		case e.Version == 1 && e.Type != l.first:
			return fmt.Errorf("%w: %s must start with %s, not %s", ErrIllegalTransition, e.Stream, l.first, e.Type)
		case e.Version > 1 && e.Type == l.first:
			return fmt.Errorf("%w: %s already started; %s can only be its first event", ErrIllegalTransition, e.Stream, e.Type)
		case l.last != "" && prev == l.last:
			return fmt.Errorf("%w: %s ended with %s; %s cannot follow", ErrIllegalTransition, e.Stream, l.last, e.Type)
		}
		last[e.Stream] = e.Type
	}
	return nil
}
