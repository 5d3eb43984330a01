package eventstore

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// How an event is stored (since schema version 2). Every event carries several
// UUIDs, a timestamp and a small JSON document whose field names repeat in
// every event of its type; stored as text they were most of an event's
// 0.6 KB. The columns keep their meaning and only their encoding changes,
// each reversibly, so that a read returns exactly the envelope appended:
//
//   - id, stream, actor and correlation_id: a value whose last 36
//     characters are a UUID in canonical form (lowercase, hyphenated) is a
//     BLOB of the characters before it followed by the UUID's 16 bytes
//     ("appointment-" + 16 bytes); any other value stays TEXT as it was.
//     The encoding is a function of the value, so equal values have equal
//     keys and the UNIQUE index and lookups work on the encoded form.
//   - time: an INTEGER of Unix nanoseconds (UTC, as Append stores every
//     time); a time outside what int64 nanoseconds reach (1677–2262)
//     stays RFC 3339 TEXT, as schema 1 stored every time, which reads back
//     for years 0–9999 only (event times come from the leader's clock).
//   - data: a zstd frame compressed against a fixed dictionary of example
//     events (dictionary/1.jsonl), when that is shorter; the JSON as it
//     was otherwise. A JSON object starts with '{', never with zstd's
//     magic number, so each value says which it is.
//
// The dictionary is part of the format: a stored frame names its ID, so
// dictionary 1 may never change. A better one would be added as 2, with
// both kept for decoding (TestDictionaryIsFrozen pins 1's bytes).

//go:embed dictionary/1.jsonl
var dictionary1 []byte

const dictionary1ID = 1

// maxDecodedData bounds what one stored frame may expand to, so that a
// damaged frame cannot make a read allocate without limit. Event data is
// far smaller (a proposal is at most a few MB).
const maxDecodedData = 64 << 20

var (
	encoderOnce = sync.OnceValues(func() (*zstd.Encoder, error) {
		return zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderDictRaw(dictionary1ID, dictionary1),
			// Literals stored as they are, not Huffman-coded: on a
			// create's payloads 54 % of the JSON instead of 47 %, for
			// 3.2 µs a payload to compress instead of 5.5 and 0.4 µs to
			// read back instead of 1.8 (BenchmarkDecodeData).
			zstd.WithNoEntropyCompression(true),
			// SQLite does not checksum its pages either, and a frame
			// that fails to decode is reported as a storage error.
			zstd.WithEncoderCRC(false),
			zstd.WithSingleSegment(true),
			zstd.WithLowerEncoderMem(true),
			// Only the state machine's single writer compresses.
			zstd.WithEncoderConcurrency(1))
	})
	decoderOnce = sync.OnceValues(func() (*zstd.Decoder, error) {
		return zstd.NewReader(nil,
			zstd.WithDecoderDictRaw(dictionary1ID, dictionary1),
			zstd.WithDecoderMaxMemory(maxDecodedData),
			zstd.WithDecoderLowmem(true))
	})
)

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// encodeData returns the stored form of an event's JSON data.
func encodeData(data []byte) ([]byte, error) {
	enc, err := encoderOnce()
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	if c := enc.EncodeAll(data, make([]byte, 0, len(data)/2)); len(c) < len(data) {
		return c, nil
	}
	return data, nil
}

// decodeData returns an event's JSON data from its stored form. It may
// return stored itself.
func decodeData(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, zstdMagic) {
		return stored, nil
	}
	dec, err := decoderOnce()
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	out, err := dec.DecodeAll(stored, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress event data: %w", err)
	}
	return out, nil
}

// uuidLen is the length of a UUID's canonical text form.
const uuidLen = 36

// uuidGroups are the hex digit groups of a UUID's canonical form,
// 8-4-4-4-12, as [start, end) offsets; hyphens stand between them.
var uuidGroups = [5][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}}

// packID returns the stored form of an ID-like value (see above): a
// []byte if it ends in a canonical UUID, the string itself otherwise.
func packID(s string) any {
	n := len(s) - uuidLen
	if n < 0 || !canonicalUUID(s[n:]) {
		return s
	}
	b := make([]byte, n+16)
	copy(b, s[:n])
	u := b[n:]
	for _, g := range uuidGroups {
		// canonicalUUID checked the digits.
		hex.Decode(u, []byte(s[n+g[0]:n+g[1]]))
		u = u[(g[1]-g[0])/2:]
	}
	return b
}

// unpackID reverses packID for a value read back: a BLOB (at least 16
// bytes) or TEXT.
func unpackID(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		n := len(v) - 16
		if n < 0 {
			return "", fmt.Errorf("stored ID of %d bytes, fewer than a UUID's 16", len(v))
		}
		out := make([]byte, n+uuidLen)
		copy(out, v[:n])
		u, text := v[n:], out[n:]
		for i, g := range uuidGroups {
			if i > 0 {
				text[g[0]-1] = '-'
			}
			hex.Encode(text[g[0]:g[1]], u[:(g[1]-g[0])/2])
			u = u[(g[1]-g[0])/2:]
		}
		return string(out), nil
	default:
		return "", fmt.Errorf("stored ID of type %T", v)
	}
}

// canonicalUUID reports whether s is a UUID as unpackID writes one:
// 8-4-4-4-12 lowercase hex digits. Any other spelling of a UUID
// (uppercase, braces) stays TEXT, so that it reads back as it was written.
func canonicalUUID(s string) bool {
	if len(s) != uuidLen {
		return false
	}
	for i, g := range uuidGroups {
		if i > 0 && s[g[0]-1] != '-' {
			return false
		}
		for _, c := range []byte(s[g[0]:g[1]]) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// packTime returns the stored form of an event's time.
func packTime(t time.Time) any {
	t = t.UTC()
	if n := t.UnixNano(); time.Unix(0, n).Equal(t) {
		return n
	}
	return t.Format(time.RFC3339Nano)
}

// unpackTime reverses packTime.
func unpackTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case int64:
		return time.Unix(0, v).UTC(), nil
	case string:
		return time.Parse(time.RFC3339Nano, v)
	default:
		return time.Time{}, fmt.Errorf("stored time of type %T", v)
	}
}
