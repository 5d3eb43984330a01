package consensus

import (
	"encoding/json"
	"fmt"

	"github.com/agendahq/agenda/events"
)

// entryType is the first byte of every Raft command entry; it selects the
// FSM handler, as in Consul's FSM dispatch table.
type entryType byte

const (
	entryAppendEvents entryType = 1
)

func encodeBatch(b events.Batch) ([]byte, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return append([]byte{byte(entryAppendEvents)}, data...), nil
}

func decodeBatch(data []byte) (events.Batch, error) {
	var b events.Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("%w: batch: %v", events.ErrMalformed, err)
	}
	return b, nil
}
