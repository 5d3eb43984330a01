package consensus

import (
	"encoding/json"
	"fmt"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/fastjson"
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

// decodeBatch reads an entry's batch as encoding/json's Unmarshal reads
// it, which is what every build before internal/fastjson did: the faster
// decoder is tried first, and whatever it refuses is decided by
// encoding/json (see the package's doc).
func decodeBatch(data []byte) (events.Batch, error) {
	b, err := fastjson.Unmarshal[events.Batch](data, json.Unmarshal)
	if err != nil {
		return b, fmt.Errorf("%w: batch: %v", events.ErrMalformed, err)
	}
	return b, nil
}
