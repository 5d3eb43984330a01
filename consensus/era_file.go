package consensus

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The era file (eraFile): what a node keeps of its era.

// eraRecord is eraFile's content: the era and where it comes from.
type eraRecord struct {
	Gen uint64 `json:"gen"`
	ID  string `json:"id"`
	// Made is "recover", "restore" or "joined".
	Made string `json:"made"`
	// By is the node that made it (the recovered or restored node), or for
	// "joined" the node this one took it from.
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Recovered is set for an era a recover started, kept when another
	// node takes it, and Ancestors are its ancestors' IDs (Era.Ancestors).
	Recovered bool     `json:"recovered,omitempty"`
	Ancestors []string `json:"ancestors,omitempty"`
	// Servers are, for a recover, the IDs of the servers it made the
	// cluster, sorted, and Index the last index of the Raft log it left:
	// run again before anyone joined and before the node started, a
	// recover starts from the same parent.
	Servers []string `json:"servers,omitempty"`
	Index   uint64   `json:"index,omitempty"`
	// SupersededBy records the era that left this node out (meet), so
	// that it stays out across restarts, and a recover run on it with
	// the survivors' list takes their era.
	SupersededBy *supersededRecord `json:"superseded_by,omitempty"`
}

// supersededRecord is a Superseded as the era file keeps it.
type supersededRecord struct {
	Era  string    `json:"era"` // Era.Token
	ID   string    `json:"id"`
	Peer string    `json:"peer"`
	At   time.Time `json:"at"`
}

func (r eraRecord) era() (Era, error) {
	if r.ID == "" && r.Gen == 0 {
		return Era{}, nil // the zero era, kept for what else the record says
	}
	id, err := hex.DecodeString(r.ID)
	if err != nil || len(id) != 16 || r.Gen == 0 || [16]byte(id) == [16]byte{} {
		return Era{}, fmt.Errorf("%s: not an era (gen %d, id %q)", eraFile, r.Gen, r.ID)
	}
	e := Era{Gen: r.Gen, ID: [16]byte(id), Recovered: r.Made == "recover" || r.Recovered}
	if len(r.Ancestors) > maxAncestors {
		return Era{}, fmt.Errorf("%s: %d ancestors, at most %d", eraFile, len(r.Ancestors), maxAncestors)
	}
	var anc []byte
	for _, a := range r.Ancestors {
		b, err := hex.DecodeString(a)
		if err != nil || len(b) != 16 {
			return Era{}, fmt.Errorf("%s: not an era's ancestor (%q)", eraFile, a)
		}
		anc = append(anc, b...)
	}
	e.Ancestors = string(anc)
	return e, nil
}

// recordOf is the record of era e, made as made by by; the zero era's has
// no ID, and writeEra removes the file for it.
func recordOf(e Era, made, by string) eraRecord {
	if e.IsZero() {
		return eraRecord{Made: made, By: by}
	}
	r := eraRecord{Gen: e.Gen, ID: hex.EncodeToString(e.ID[:]), Made: made, By: by, At: time.Now().UTC(), Recovered: e.Recovered}
	for i := 0; i+16 <= len(e.Ancestors); i += 16 {
		r.Ancestors = append(r.Ancestors, hex.EncodeToString([]byte(e.Ancestors[i:i+16])))
	}
	return r
}

// madeHere reports whether the node made its era itself, by a recover or a
// restore, rather than taking a peer's.
func (r eraRecord) madeHere() bool { return r.Made == "recover" || r.Made == "restore" }

// readEra reads dir's era record (zero if there is none).
func readEra(dir string) (eraRecord, Era, error) {
	b, err := os.ReadFile(filepath.Join(dir, eraFile))
	if errors.Is(err, fs.ErrNotExist) {
		return eraRecord{}, Era{}, nil
	}
	if err != nil {
		return eraRecord{}, Era{}, err
	}
	var r eraRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return eraRecord{}, Era{}, fmt.Errorf("read %s: %w", filepath.Join(dir, eraFile), err)
	}
	e, err := r.era()
	return r, e, err
}

// writeEra replaces dir's era record, durably; the zero era's is none.
func writeEra(dir string, r eraRecord) error {
	if r.ID == "" && r.SupersededBy == nil {
		return removeSynced(filepath.Join(dir, eraFile))
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return replaceSynced(filepath.Join(dir, eraFile), b)
}

// replaceSynced writes b to path through a temporary file renamed over it,
// so that a crash leaves the old content or the new, durably.
func replaceSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := writeSynced(tmp, b); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
