package http

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agendahq/agenda"
)

// TestHubBoundsASubscribersWaitingBytes: a subscriber is dropped as too
// slow once the frames waiting for it reach subscriberBufferBytes, however
// many more frames its buffer has room for (its stream then goes on from
// the feed, in pages of MaxStreamPageBytes); one that reads keeps up, and
// a frame larger than the bound alone still goes through.
func TestHubBoundsASubscribersWaitingBytes(t *testing.T) {
	entry := func(p int64, size int) agenda.FeedEntry {
		return agenda.FeedEntry{Type: agenda.FeedEvent, UserID: "ana", Position: p,
			Data: json.RawMessage(`"` + strings.Repeat("x", size) + `"`)}
	}
	h := NewHub(&fakeFeed{}, nil)
	h.Buffer = 1000
	stalled, _, _ := h.subscribe("ana")
	reader, _, _ := h.subscribe("ana")
	const size = 10 << 10
	for p := int64(1); p <= 100; p++ {
		h.dispatch([]agenda.FeedEntry{entry(p, size)}, p)
		select {
		case f := <-reader.frames:
			reader.received(f)
		default:
			t.Fatalf("no frame for the reader at %d", p)
		}
	}
	select {
	case <-stalled.ended:
	default:
		t.Fatalf("a subscriber that never read holds %d frames of 10 KiB, still subscribed", len(stalled.frames))
	}
	if stalled.why != endTooSlow {
		t.Errorf("dropped as %q, want %q", stalled.why, endTooSlow)
	}
	if held := len(stalled.frames) * size; held > subscriberBufferBytes {
		t.Errorf("it was left holding %d bytes of frames, want at most %d", held, subscriberBufferBytes)
	}
	select {
	case <-reader.ended:
		t.Fatal("the subscriber that read was dropped")
	default:
	}
	if q := reader.queued.Load(); q != 0 {
		t.Errorf("the reader took every frame, yet %d bytes count as waiting", q)
	}
	h.dispatch([]agenda.FeedEntry{entry(101, 2*subscriberBufferBytes)}, 101)
	if f := <-reader.frames; f.position != 101 {
		t.Fatalf("the large frame: got %d", f.position)
	}
}
