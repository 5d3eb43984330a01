package projections

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/agendahq/agenda/events"
)

// EventSource is the part of the event store a subscriber reads.
type EventSource interface {
	ReadTypes(ctx context.Context, after, upTo int64, limit int, types []string) ([]events.Envelope, int64, error)
	Watch() (head int64, changed <-chan struct{})
}

// decodedSource is an EventSource that can also hand over the events it
// holds already decoded (eventstore.Store, for the events the FSM has just
// decoded and appended).
type decodedSource interface {
	ReadTypesDecoded(ctx context.Context, after, upTo int64, limit int, types []string) ([]events.Envelope, []events.Event, int64, error)
}

// Metadata keys of a batch message.
const (
	metaFrom = "from_position"
	metaTo   = "to_position"
)

// EventStoreSubscriber is a watermill Subscriber that delivers the event
// store, from a checkpoint, as messages of up to BatchSize events each.
//
// Unlike gochannel it loses nothing and keeps order: it holds one message in
// flight and fetches the next batch only when the handler has acked the
// current one; a nacked batch is delivered again after a backoff. The
// checkpoint function is read before every fetch, so the stream resumes from
// whatever the projection last committed (after a crash, a nack or a reset).
type EventStoreSubscriber struct {
	Source     EventSource
	Checkpoint func() int64
	// Types are the event types to deliver; the others are skipped (the
	// checkpoint still moves past them).
	Types     []string
	BatchSize int
	// PollInterval is a fallback in case a wake-up is missed.
	PollInterval time.Duration
	// OnNack is told of each redelivery (for status reporting).
	OnNack func(attempt int)
	// Backoff is the wait before redelivering a nacked batch (default:
	// exponential from 50 ms to 5 s).
	Backoff func(attempt int) time.Duration
	Logger  *slog.Logger

	mu     sync.Mutex
	closed bool
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

var _ message.Subscriber = (*EventStoreSubscriber)(nil)

// Subscribe implements message.Subscriber. The topic is only a label.
func (s *EventStoreSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("subscriber closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = append(s.cancel, cancel)
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		s.run(ctx, out)
	}()
	return out, nil
}

func (s *EventStoreSubscriber) run(ctx context.Context, out chan<- *message.Message) {
	batch := s.BatchSize
	if batch <= 0 {
		batch = 2048
	}
	poll := s.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	attempt := 0
	for ctx.Err() == nil {
		from := s.Checkpoint()
		head, changed := s.Source.Watch()
		if head <= from {
			select {
			case <-changed:
			case <-time.After(poll):
			case <-ctx.Done():
			}
			continue
		}
		// Examine at most scanWindow positions per message, so that a
		// projection that cares about few event types still checkpoints
		// regularly. A bounded read need not be cancellable; go-sqlite3 pays
		// for watching a cancellable context on every row.
		upTo := min(head, from+scanWindow)
		var evs []events.Envelope
		var decoded []events.Event
		var to int64
		var err error
		if ds, ok := s.Source.(decodedSource); ok {
			evs, decoded, to, err = ds.ReadTypesDecoded(context.WithoutCancel(ctx), from, upTo, batch, s.Types)
		} else {
			evs, to, err = s.Source.ReadTypes(context.WithoutCancel(ctx), from, upTo, batch, s.Types)
		}
		if err != nil || to <= from {
			if err != nil && ctx.Err() == nil {
				s.Logger.Error("projection subscriber: read event store", "err", err)
			}
			sleep(ctx, poll)
			continue
		}
		// The events travel in the message's context rather than as a
		// serialised payload: subscriber and handler share a process, and
		// encoding every event to JSON and back cost a third of catch-up
		// time. The payload names the range for logs.
		msg := message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprintf(`{"from":%d,"to":%d}`, from, to)))
		msg.Metadata.Set(metaFrom, strconv.FormatInt(from, 10))
		msg.Metadata.Set(metaTo, strconv.FormatInt(to, 10))
		msgCtx := context.WithValue(ctx, batchKey{}, evs)
		if decoded != nil {
			msgCtx = context.WithValue(msgCtx, decodedKey{}, decoded)
		}
		msgCtx, cancel := context.WithCancel(msgCtx)
		msg.SetContext(msgCtx)
		select {
		case out <- msg:
		case <-ctx.Done():
			cancel()
			return
		}
		select {
		case <-msg.Acked():
			attempt = 0
		case <-msg.Nacked():
			attempt++
			if s.OnNack != nil {
				s.OnNack(attempt)
			}
			wait := backoff
			if s.Backoff != nil {
				wait = s.Backoff
			}
			sleep(ctx, wait(attempt))
		case <-ctx.Done():
		}
		cancel()
	}
}

func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 7)
	return min(d, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Close implements message.Subscriber: it ends every subscription and waits
// for their goroutines.
func (s *EventStoreSubscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, c := range s.cancel {
		c()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// scanWindow bounds the positions one batch message covers.
const scanWindow = 16384

type batchKey struct{}

// decodedKey holds, index for index, the events of a batch message already
// decoded (nil where they were not).
type decodedKey struct{}

// BatchEvents returns the events a batch message carries.
func BatchEvents(msg *message.Message) ([]events.Envelope, error) {
	evs, ok := msg.Context().Value(batchKey{}).([]events.Envelope)
	if !ok {
		return nil, fmt.Errorf("message %s carries no event batch", msg.UUID)
	}
	return evs, nil
}

// batchDecoded returns what the source handed over of a batch message's
// events decoded: nil, or one entry per event, nil where there is none.
func batchDecoded(msg *message.Message) []events.Event {
	evs, _ := msg.Context().Value(decodedKey{}).([]events.Event)
	return evs
}

// batchRange returns the positions a batch message covers.
func batchRange(msg *message.Message) (from, to int64, err error) {
	from, err = strconv.ParseInt(msg.Metadata.Get(metaFrom), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("batch message without %s: %w", metaFrom, err)
	}
	to, err = strconv.ParseInt(msg.Metadata.Get(metaTo), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("batch message without %s: %w", metaTo, err)
	}
	return from, to, nil
}
