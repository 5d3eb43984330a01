package consensus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// Servers left out by a recover.
//
// `agenda cluster recover` makes the survivors of a lost majority the
// whole cluster. The servers it leaves out still hold the old
// configuration, in which they are a majority: if they come back with
// their data, they elect one of themselves and send it to the survivors.
// An operations review started the two lost nodes of three at once after
// recovering the third: they elected a leader in the survivor's term, the
// survivor followed it, and the writes acknowledged since the recover
// stayed in its event store while its Raft log took the other history
// (logins that worked on one node answered 401 on the others, and no log
// said a word).
//
// So a recover writes down whom it left out (leftOutFile), and a node
// refuses every Raft request from them (answered with leftOutMarker) until
// its configuration lists them again, as it does for one that joins anew
// with an empty data dir. A node refused that way learns that its cluster
// went on without it: from then on it answers every Raft request with the
// same refusal and sends none (so the others it used to lead or follow
// learn it too), and serves nothing (Node.LeftOut) until it is started
// again with its data dir moved aside.

// leftOutFile is the record, in a recovered node's Raft directory, of the
// servers the recover left out.
const leftOutFile = "recovered-without"

// leftOutMarker opens the error a node answers a left-out server's Raft
// requests with; the left-out server recognises it in the answer (which
// reaches it as a string).
const leftOutMarker = "left out of this cluster by a recover"

// leftOut is what leftOutFile holds.
type leftOut struct {
	IDs []string `json:"ids"`
	// By is the node the recover was run on.
	By string `json:"by"`
}

// readLeftOut reads dir's record of left-out servers (none if absent).
func readLeftOut(dir string) (leftOut, error) {
	b, err := os.ReadFile(filepath.Join(dir, leftOutFile))
	if errors.Is(err, fs.ErrNotExist) {
		return leftOut{}, nil
	}
	if err != nil {
		return leftOut{}, err
	}
	var lo leftOut
	if err := json.Unmarshal(b, &lo); err != nil {
		return leftOut{}, fmt.Errorf("read %s: %w", leftOutFile, err)
	}
	return lo, nil
}

// recordLeftOut adds to dir's record the servers of previous that are not
// in servers (those this recover leaves out), and drops from it any that
// servers lists again. It returns the IDs this recover leaves out.
func recordLeftOut(dir, by string, previous raft.Configuration, servers []Server) ([]string, error) {
	lo, err := readLeftOut(dir)
	if err != nil {
		return nil, err
	}
	kept := func(id string) bool {
		return slices.ContainsFunc(servers, func(s Server) bool { return s.ID == id })
	}
	var now []string
	for _, s := range previous.Servers {
		if id := string(s.ID); !kept(id) {
			now = append(now, id)
		}
	}
	ids := slices.DeleteFunc(append(lo.IDs, now...), kept)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	path := filepath.Join(dir, leftOutFile)
	if err := removeSynced(path); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return now, nil
	}
	b, err := json.Marshal(leftOut{IDs: ids, By: by})
	if err != nil {
		return nil, err
	}
	return now, writeSynced(path, b)
}

// lastConfiguration returns the newest configuration a stopped node's Raft
// log or snapshots hold (empty if none).
func lastConfiguration(logs raft.LogStore, snaps raft.SnapshotStore) (raft.Configuration, error) {
	first, err := logs.FirstIndex()
	if err != nil {
		return raft.Configuration{}, err
	}
	last, err := logs.LastIndex()
	if err != nil {
		return raft.Configuration{}, err
	}
	for i := last; i >= first && i > 0; i-- {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return raft.Configuration{}, fmt.Errorf("read raft log entry %d: %w", i, err)
		}
		if l.Type == raft.LogConfiguration {
			return raft.DecodeConfiguration(l.Data), nil
		}
	}
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		return raft.Configuration{}, err
	}
	return metas[0].Configuration, nil
}

// leftOutError is the answer to a left-out server's Raft request; by is
// the node the recover was run on.
func leftOutError(by string) error {
	return fmt.Errorf("%s on %s: move this node's data dir aside and start it again to join as a new node", leftOutMarker, by)
}

// leftOutBy reports, if err (a peer's answer) says this node was left out,
// the node the recover was run on.
func leftOutBy(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	_, rest, ok := strings.Cut(err.Error(), leftOutMarker+" on ")
	if !ok {
		return "", false
	}
	by, _, _ := strings.Cut(rest, ":")
	return by, true
}

// refuseLeftOut answers rpc with the left-out refusal if it comes from a
// server the recover left out and the configuration does not list again,
// or if this node learned it was left out itself. It reports whether it
// did.
func (g *gatedTransport) refuseLeftOut(rpc raft.RPC) bool {
	refuse := g.leftOutBy.Load() != nil
	if !refuse && len(g.leftOut.IDs) > 0 {
		h, ok := rpc.Command.(raft.WithRPCHeader)
		if !ok {
			return false
		}
		id := string(h.GetRPCHeader().ID)
		refuse = slices.Contains(g.leftOut.IDs, id) && !g.listed(id)
	}
	if !refuse {
		return false
	}
	if rpc.Reader != nil {
		_, _ = io.Copy(io.Discard, rpc.Reader) // an InstallSnapshot's data, so that the connection stays in step
	}
	by := g.leftOut.By
	if p := g.leftOutBy.Load(); p != nil {
		by = *p
	}
	rpc.Respond(nil, leftOutError(by))
	return true
}

// listed reports whether the latest configuration lists id.
func (g *gatedTransport) listed(id string) bool {
	r := g.raft.Load()
	if r == nil {
		return false
	}
	f := r.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	return slices.ContainsFunc(f.Configuration().Servers, func(s raft.Server) bool { return string(s.ID) == id })
}

// sending checks an outgoing request: none goes out once this node knows
// it was left out.
func (g *gatedTransport) sending() error {
	if p := g.leftOutBy.Load(); p != nil {
		return leftOutError(*p)
	}
	return nil
}

// answered notes a peer's answer that this node was left out.
func (g *gatedTransport) answered(peer raft.ServerID, err error) error {
	if by, ok := leftOutBy(err); ok && g.leftOutBy.CompareAndSwap(nil, &by) {
		g.logger.Error("this node was left out when its cluster was recovered: it serves nothing and takes no part in Raft; move its data dir aside and start it again to join as a new node",
			"action", "cluster.left_out", "recovered_on", by, "told_by", string(peer))
	}
	return err
}

// LeftOut reports, if this node learned that its cluster was recovered
// without it, the node the recover was run on ("" otherwise). Such a node
// must serve nothing: its data is a history the cluster no longer follows.
func (n *Node) LeftOut() string {
	if p := n.transport.leftOutBy.Load(); p != nil {
		return *p
	}
	return ""
}
