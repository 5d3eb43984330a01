package projections_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
	"github.com/agendahq/agenda/projections"
)

var _ message.Subscriber = (*projections.EventStoreSubscriber)(nil)

// subscriberFixture is an EventStoreSubscriber over a real store whose
// checkpoint the test moves by hand, as a projection's Apply would.
type subscriberFixture struct {
	store      *eventstore.Store
	log        *eventLog
	checkpoint atomic.Int64
	nacks      atomic.Int64
	sub        *projections.EventStoreSubscriber
}

func newSubscriberFixture(t *testing.T, batchSize int) *subscriberFixture {
	t.Helper()
	f := &subscriberFixture{store: mustOpenStore(t)}
	f.log = newEventLog(t, f.store)
	f.sub = &projections.EventStoreSubscriber{
		Source:     f.store,
		Checkpoint: f.checkpoint.Load,
		Types:      allEventTypes(),
		BatchSize:  batchSize,
		// Long enough that a test passing in time proves the store's
		// wake-up, not the poll, delivered the events.
		PollInterval: time.Hour,
		OnNack:       func(int) { f.nacks.Add(1) },
		Logger:       testLogger(),
	}
	t.Cleanup(func() { f.sub.Close() })
	return f
}

// appendUsers appends n registrations (two events each).
func (f *subscriberFixture) appendUsers(n int) int64 {
	var head int64
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("s%d", f.log.seq)
		head = f.log.append("node-a", registerUser(id, "name"+id, id)...)
	}
	return head
}

// receive waits for the next message.
func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if !ok {
			t.Fatal("output channel closed, want a message")
		}
		return msg
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
	return nil
}

// expectNothing checks that no message arrives for a while.
func expectNothing(t *testing.T, ch <-chan *message.Message, why string) {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if ok {
			from, to := msgRange(t, msg)
			t.Fatalf("got batch (%d, %d] %s, want none", from, to, why)
		}
		t.Fatalf("output channel closed %s", why)
	case <-time.After(150 * time.Millisecond):
	}
}

func msgRange(t *testing.T, msg *message.Message) (from, to int64) {
	t.Helper()
	from, err1 := strconv.ParseInt(msg.Metadata.Get("from_position"), 10, 64)
	to, err2 := strconv.ParseInt(msg.Metadata.Get("to_position"), 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("message metadata %v lacks from/to positions", msg.Metadata)
	}
	return from, to
}

// checkBatch checks a message covers (from, to] with every event in order.
func checkBatch(t *testing.T, msg *message.Message, wantFrom, wantTo int64) []events.Envelope {
	t.Helper()
	from, to := msgRange(t, msg)
	if from != wantFrom || to != wantTo {
		t.Fatalf("batch = (%d, %d], want (%d, %d]", from, to, wantFrom, wantTo)
	}
	envs, err := projections.BatchEvents(msg)
	if err != nil {
		t.Fatalf("batch events: %v", err)
	}
	if int64(len(envs)) != to-from {
		t.Fatalf("batch (%d, %d] holds %d events, want %d", from, to, len(envs), to-from)
	}
	for i, e := range envs {
		if want := from + int64(i) + 1; e.Position != want {
			t.Fatalf("event %d of batch at position %d, want %d", i, e.Position, want)
		}
		if _, err := e.Decode(); err != nil {
			t.Fatalf("event at %d does not decode: %v", e.Position, err)
		}
	}
	return envs
}

func TestEventStoreSubscriberDeliversBatchesInOrder(t *testing.T) {
	f := newSubscriberFixture(t, 3)
	head := f.appendUsers(5) // positions 1..10
	ch, err := f.sub.Subscribe(context.Background(), "agenda")
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}

	for _, want := range [][2]int64{{0, 3}, {3, 6}, {6, 9}, {9, 10}} {
		msg := receive(t, ch)
		checkBatch(t, msg, want[0], want[1])
		expectNothing(t, ch, "while a batch is in flight")
		f.checkpoint.Store(want[1])
		msg.Ack()
	}
	if f.checkpoint.Load() != head {
		t.Fatalf("checkpoint = %d, want head %d", f.checkpoint.Load(), head)
	}
	expectNothing(t, ch, "at the head")

	t.Run("new events wake the subscriber", func(t *testing.T) {
		head := f.appendUsers(1)
		msg := receive(t, ch)
		checkBatch(t, msg, 10, head)
		f.checkpoint.Store(head)
		msg.Ack()
	})

	t.Run("a checkpoint moved back is redelivered from", func(t *testing.T) {
		f.checkpoint.Store(4) // as a reset or rebuild would
		f.appendUsers(1)      // wake it up
		msg := receive(t, ch)
		checkBatch(t, msg, 4, 7)
		f.checkpoint.Store(7)
		msg.Ack()
	})
}

func TestEventStoreSubscriberRedeliversNackedBatch(t *testing.T) {
	f := newSubscriberFixture(t, 4)
	f.appendUsers(3) // positions 1..6
	ch, err := f.sub.Subscribe(context.Background(), "agenda")
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	first := receive(t, ch)
	firstEvents := checkBatch(t, first, 0, 4)
	first.Nack()

	again := receive(t, ch)
	againEvents := checkBatch(t, again, 0, 4)
	for i := range firstEvents {
		if firstEvents[i].ID != againEvents[i].ID {
			t.Errorf("redelivered event %d = %s, want %s", i, againEvents[i].ID, firstEvents[i].ID)
		}
	}
	if n := f.nacks.Load(); n != 1 {
		t.Errorf("OnNack called %d times, want 1", n)
	}
	f.checkpoint.Store(4)
	again.Ack()
	checkBatch(t, receive(t, ch), 4, 6)
}

func TestEventStoreSubscriberClose(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inFlight bool // a message is delivered and neither acked nor nacked
	}{
		{name: "idle at the head", inFlight: false},
		{name: "with a batch in flight", inFlight: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSubscriberFixture(t, 2)
			head := f.appendUsers(2)
			ch, err := f.sub.Subscribe(context.Background(), "agenda")
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			msg := receive(t, ch)
			if !tc.inFlight {
				f.checkpoint.Store(head)
				msg.Ack()
				expectNothing(t, ch, "at the head")
			}
			closed := make(chan error, 1)
			go func() { closed <- f.sub.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not return within 5s")
			}
			select {
			case _, ok := <-ch:
				if ok {
					t.Fatal("got a message after Close, want the channel closed")
				}
			case <-time.After(time.Second):
				t.Fatal("output channel still open after Close")
			}
			if err := f.sub.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := f.sub.Subscribe(context.Background(), "agenda"); err == nil {
				t.Error("Subscribe after Close succeeded, want an error")
			}
		})
	}

	t.Run("ending the subscription context closes the channel", func(t *testing.T) {
		f := newSubscriberFixture(t, 2)
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := f.sub.Subscribe(ctx, "agenda")
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		cancel()
		select {
		case _, ok := <-ch:
			if ok {
				t.Fatal("got a message, want the channel closed")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("output channel still open after the context ended")
		}
	})
}

// allEventTypes lists every registered event type.
func allEventTypes() []string {
	var out []string
	for t := range events.Types() {
		out = append(out, t)
	}
	return out
}
