package events

import "fmt"

// Expectation states the version a stream must be at for a batch to commit:
// the version the command saw when it read the stream. 0 means the stream
// must not exist yet. A batch may expect streams it does not write to.
type Expectation struct {
	Stream  string `json:"stream"`
	Version int64  `json:"version"`
}

// Batch is the unit a command proposes: events that commit together or not
// at all, guarded by the expected versions of every stream the command read.
type Batch struct {
	Events []Envelope    `json:"events"`
	Expect []Expectation `json:"expect"`
}

// Committed describes a batch once it is in the log.
type Committed struct {
	// FirstPosition and LastPosition are the global positions of the
	// batch's first and last events.
	FirstPosition int64
	LastPosition  int64
	// Index is the Raft log index of the entry that carried the batch.
	Index uint64
}

// Validate checks that the batch is well formed: at least one event, each
// valid, and per stream consecutive versions that follow its expectation.
func (b *Batch) Validate() error {
	if len(b.Events) == 0 {
		return fmt.Errorf("%w: empty batch", ErrMalformed)
	}
	expected := make(map[string]int64, len(b.Expect))
	for _, x := range b.Expect {
		if x.Stream == "" || x.Version < 0 {
			return fmt.Errorf("%w: bad expectation %+v", ErrMalformed, x)
		}
		if prev, ok := expected[x.Stream]; ok && prev != x.Version {
			return fmt.Errorf("%w: stream %s expected at %d and %d", ErrMalformed, x.Stream, prev, x.Version)
		}
		expected[x.Stream] = x.Version
	}
	seen := make(map[string]bool, len(b.Events))
	next := make(map[string]int64)
	for i := range b.Events {
		e := &b.Events[i]
		if err := e.Validate(); err != nil {
			return err
		}
		if seen[e.ID] {
			return fmt.Errorf("%w: event id %s twice in batch", ErrMalformed, e.ID)
		}
		seen[e.ID] = true
		want, ok := next[e.Stream]
		if !ok {
			x, ok := expected[e.Stream]
			if !ok {
				return fmt.Errorf("%w: stream %s written without an expected version", ErrMalformed, e.Stream)
			}
			want = x + 1
		}
		if e.Version != want {
			return fmt.Errorf("%w: event %s on %s has version %d, want %d", ErrMalformed, e.ID, e.Stream, e.Version, want)
		}
		next[e.Stream] = want + 1
	}
	return nil
}
