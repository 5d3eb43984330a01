package readmodel

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/agendahq/agenda"
)

// Who may see an agenda entry, decided inside the projection's transaction
// for the feed: the facts from SQL, the decision agenda.SeesEntry's.

// EntryViewer is someone other than the owner who may see an agenda entry,
// and how much of it (agenda.SeeBusy or agenda.SeeDetails); TakesPart if
// they take part in its appointment themselves (are a participant who has
// not declined).
type EntryViewer struct {
	UserID    string
	Level     int
	TakesPart bool
}

// EntryViewers returns who, besides its owner, may see ownerID's entry of
// appointmentID, and how much. The facts come from SQL; the decision is
// agenda.SeesEntry's, over agenda.SeesDetails: the one place the visibility
// rule lives.
func (t *Tx) EntryViewers(ownerID, appointmentID string) ([]EntryViewer, error) {
	return t.entryViewers(ownerID, appointmentID, "")
}

// EntryViewersAt is EntryViewers as if the appointment's privacy were
// privacy: who saw the entry, and how much, before its privacy changed.
func (t *Tx) EntryViewersAt(ownerID, appointmentID, privacy string) ([]EntryViewer, error) {
	return t.entryViewers(ownerID, appointmentID, privacy)
}

// entryViewers is EntryViewers, with the appointment's privacy taken as
// privacy unless that is "".
func (t *Tx) entryViewers(ownerID, appointmentID, privacy string) ([]EntryViewer, error) {
	// Most people are in no group: the cheapest lookup says so, once per
	// transaction (see Tx.ungrouped).
	if t.ungrouped[ownerID] {
		return nil, nil
	}
	var inGroup int
	if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM group_members WHERE user_id = ?)`, ownerID).
		Scan(&inGroup); err != nil {
		return nil, fmt.Errorf("read viewers of %s: %w", appointmentID, err)
	}
	if inGroup == 0 {
		if t.ungrouped == nil {
			t.ungrouped = map[string]bool{}
		}
		t.ungrouped[ownerID] = true
		return nil, nil
	}
	// Only active memberships relate people: someone invited sees nothing.
	rows, err := t.query(`SELECT v.user_id, g.id, g.hierarchical, v.rank, o.rank
		FROM group_members o
		JOIN group_members v ON v.group_id = o.group_id AND v.user_id <> o.user_id AND v.status = ?2
		JOIN groups g ON g.id = o.group_id
		WHERE o.user_id = ?1 AND o.status = ?2`, ownerID, agenda.MemberActive)
	if err != nil {
		return nil, fmt.Errorf("read viewers of %s: %w", appointmentID, err)
	}
	views := map[string][]agenda.EntryView{}
	var order []string
	for rows.Next() {
		var viewer string
		var v agenda.EntryView
		if err := rows.Scan(&viewer, &v.GroupID, &v.Hierarchical, &v.ViewerRank, &v.MemberRank); err != nil {
			rows.Close()
			return nil, err
		}
		if _, ok := views[viewer]; !ok {
			order = append(order, viewer)
		}
		views[viewer] = append(views[viewer], v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, nil // no shared group: nobody else sees anything
	}
	var stored, groupID string
	err = t.queryRow(`SELECT privacy, group_id FROM appointments WHERE id = ?`, appointmentID).Scan(&stored, &groupID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read viewers of %s: %w", appointmentID, err)
	}
	if privacy == "" {
		privacy = stored
	}
	// Taking part is the participant list's (every participant but one who
	// declined has the entry), not the agenda entries': an appointment's
	// entries are added one by one, after its participants, and a review
	// found each participant shown those written before their own as busy.
	parts, err := t.strings(`SELECT user_id FROM participants WHERE appointment_id = ? AND status <> ?`,
		appointmentID, agenda.RoleDeclined)
	if err != nil {
		return nil, fmt.Errorf("read viewers of %s: %w", appointmentID, err)
	}
	takesPart := map[string]bool{}
	for _, u := range parts {
		takesPart[u] = true
	}
	sort.Strings(order)
	out := make([]EntryViewer, 0, len(order))
	for _, viewer := range order {
		vs := views[viewer]
		for i := range vs {
			vs[i].Privacy, vs[i].EntryGroupID, vs[i].TakesPart = privacy, groupID, takesPart[viewer]
		}
		if level := agenda.SeesEntry(vs); level != agenda.SeeNothing {
			out = append(out, EntryViewer{UserID: viewer, Level: level, TakesPart: takesPart[viewer]})
		}
	}
	return out, nil
}
