package eventstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

// TestDictionaryIsFrozen: stored frames name dictionary 1, so its bytes may
// never change; a new dictionary gets a new ID (codec.go).
func TestDictionaryIsFrozen(t *testing.T) {
	const want = "40ccc23c859cdf0ba74941f13233f95efd9ad9b766e74cbe7276f6ac33de4494"
	if got := sha256.Sum256(dictionary1); hex.EncodeToString(got[:]) != want {
		t.Fatalf("dictionary/1.jsonl has SHA-256 %x, want %s: stored events name it and cannot be read with other bytes", got, want)
	}
}

func TestPackID(t *testing.T) {
	const u = "01a240e2-06ff-793b-8b17-25bc04870783"
	tests := []struct {
		in     string
		packed bool
		size   int
	}{
		{u, true, 16},
		{"appointment-" + u, true, 12 + 16},
		{"-" + u, true, 17},
		{"ünïcode-" + u, true, 10 + 16},
		{"", false, 0},
		{"username-zoe", false, 0},
		{"01A240E2-06FF-793B-8B17-25BC04870783", false, 0},
		{"{" + u + "}", false, 0},
		{u + "x", false, 0},
		{"01a240e2-06ff-793b-8b17-25bc0487078g", false, 0},
		{"01a240e206ff793b8b1725bc04870783xxxx", false, 0},
		{"01a240e2_06ff-793b-8b17-25bc04870783", false, 0},
	}
	for _, tt := range tests {
		p := packID(tt.in)
		b, isBlob := p.([]byte)
		if isBlob != tt.packed || isBlob && len(b) != tt.size {
			t.Errorf("packID(%q) = %#v, want packed %v in %d bytes", tt.in, p, tt.packed, tt.size)
		}
		if got, err := unpackID(p); err != nil || got != tt.in {
			t.Errorf("unpackID(packID(%q)) = %q, %v", tt.in, got, err)
		}
	}
	if _, err := unpackID([]byte("short")); err == nil {
		t.Error("unpackID of a 5-byte BLOB: got no error")
	}
	if _, err := unpackID(int64(1)); err == nil {
		t.Error("unpackID of an INTEGER: got no error")
	}
}

// FuzzPackID: every string reads back as it was, and only one that ends in
// a canonical UUID is packed.
func FuzzPackID(f *testing.F) {
	for _, s := range []string{"", "01a240e2-06ff-793b-8b17-25bc04870783", "agenda-01a240e2-06ff-793b-8b17-25bc04870783", "x\xff01a240e2-06ff-793b-8b17-25bc04870783"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := packID(s)
		got, err := unpackID(p)
		if err != nil || got != s {
			t.Fatalf("unpackID(packID(%q)) = %q, %v", s, got, err)
		}
		if b, ok := p.([]byte); ok && (len(b) != len(s)-20 || !canonicalUUID(s[len(s)-36:])) {
			t.Fatalf("packID(%q) = %x", s, b)
		}
	})
}

func TestPackTime(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, tt := range []struct {
		in   time.Time
		text bool
	}{
		{time.Date(2026, 12, 4, 11, 48, 4, 479599765, time.UTC), false},
		{time.Date(2026, 12, 4, 12, 48, 4, 1, paris), false},
		{time.Unix(0, 0).UTC(), false},
		{time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC), true},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
	} {
		p := packTime(tt.in)
		if _, isText := p.(string); isText != tt.text {
			t.Errorf("packTime(%v) = %#v, want text %v", tt.in, p, tt.text)
		}
		got, err := unpackTime(p)
		if err != nil || !got.Equal(tt.in) || got.Location() != time.UTC ||
			got.Format(time.RFC3339Nano) != tt.in.UTC().Format(time.RFC3339Nano) {
			t.Errorf("unpackTime(packTime(%v)) = %v (%v), %v", tt.in, got, got.Location(), err)
		}
	}
}

// FuzzData: event data reads back byte for byte, compressed or not.
func FuzzData(f *testing.F) {
	f.Add([]byte(`{"appointment_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","owner_id":"0f8fad5b-d9cb-469f-a165-70867728950e","group_id":"","title":"bench","description":"","location":"","start":"2031-01-06T00:00:00Z","end":"2031-01-06T00:30:00Z","privacy":"full","status":"confirmed"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"title":"` + string(bytes.Repeat([]byte("x"), 5000)) + `"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] != '{' {
			// Event data is a JSON object (Envelope.Validate).
			return
		}
		stored, err := encodeData(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) > len(data) {
			t.Fatalf("stored %d bytes for %d", len(stored), len(data))
		}
		got, err := decodeData(stored)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decodeData(encodeData(%q)) = %q, %v", data, got, err)
		}
	})
}

func TestDecodeDataRefusesADamagedFrame(t *testing.T) {
	stored, err := encodeData([]byte(`{"appointment_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","title":"planning planning planning"}`))
	if err != nil || !bytes.HasPrefix(stored, zstdMagic) {
		t.Fatalf("encodeData: %x, %v; want a frame", stored, err)
	}
	if _, err := decodeData(stored[:len(stored)-3]); err == nil {
		t.Error("decodeData of a truncated frame: got no error")
	}
}

// BenchmarkDecodeData: what reading back a compressed payload costs (a
// create's appointment.created, as the API's bench writes it).
func BenchmarkDecodeData(b *testing.B) {
	data := []byte(`{"appointment_id":"01a240e2-0daa-7b4b-8af1-1963046614ec","owner_id":"01a240e1-f2b5-779b-94a5-b7ae158f3a69","group_id":"","title":"bench","description":"","location":"","start":"2031-01-06T00:00:00Z","end":"2031-01-06T00:30:00Z","privacy":"full","status":"confirmed"}`)
	stored, err := encodeData(data)
	if err != nil || !bytes.HasPrefix(stored, zstdMagic) {
		b.Fatalf("encodeData: %x, %v", stored, err)
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeData(stored); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeData(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
