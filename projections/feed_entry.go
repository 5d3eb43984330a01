package projections

// What the feed gives those who see an agenda entry or an appointment
// without taking part in it: members of the owner's groups, shown its
// details or only busy time as agenda.SeesEntry decides (see feed).

import (
	"encoding/json"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// entryBefore decides who, besides its owner, may see owner's entry of
// appointmentID (memberships and participations are not changed by agenda
// events, so before is after), and reads what they will need: the slot as
// it was (withSlot), and the appointment's details for those allowed them.
// An owner who shares no group costs one query.
func (f *feed) entryBefore(owner, appointmentID string, withSlot bool) error {
	var err error
	if f.viewers, err = f.tx.EntryViewers(owner, appointmentID); err != nil || len(f.viewers) == 0 {
		return err
	}
	if withSlot {
		if f.slot, err = f.tx.AgendaEntrySlot(owner, appointmentID); err != nil {
			return err
		}
	}
	if f.tx.FeedOmitted(f.env.Position) {
		return nil // who receives the entry counts, not what it says
	}
	for _, v := range f.viewers {
		if v.Level == agenda.SeeDetails && !v.TakesPart {
			f.detail, err = f.detailed(appointmentID)
			return err
		}
	}
	return nil
}

// entry describes a change to owner's entry — from f.slot to now — to its
// owner and to everyone who may see it, as the group agenda shows it: only
// if the entry blocks time before or after the change (a pending
// invitation is in no group agenda: a review found its details sent to a
// superior all the same); busy says whether it blocks now.
func (f *feed) entry(owner string, now readmodel.EntrySlot) error {
	f.to(owner, f.env.Data)
	before := f.slot
	blocksBefore := before.Found && agenda.Blocks(before.Role)
	blocksNow := now.Found && agenda.Blocks(now.Role)
	slot := now
	if !now.Found {
		slot = before
	}
	if !blocksBefore && !blocksNow {
		return nil
	}
	omitted := f.tx.FeedOmitted(f.env.Position)
	var busy json.RawMessage
	for _, v := range f.viewers {
		if v.TakesPart {
			// Every change to an entry of an appointment comes of one of
			// the appointment's own events, which reach everyone who takes
			// part in it: told the entries too, each of an imposition's N
			// participants got N rows (40,000 for 200 members).
			continue
		}
		level := v.Level
		if level == agenda.SeeDetails && !blocksNow {
			// The entry leaves the group agendas (removed, declined):
			// those who saw it in full no longer may, so their feed
			// before closes, and they are told as busy time, without
			// its details.
			f.revoked = append(f.revoked, v.UserID)
			level = agenda.SeeBusy
		}
		switch level {
		case agenda.SeeDetails:
			f.toViewer(v.UserID, owner, f.detail)
		case agenda.SeeBusy:
			if busy == nil && !omitted {
				var err error
				if busy, err = busyFrame(owner, slot, before, blocksNow); err != nil {
					return err
				}
			}
			f.toViewer(v.UserID, owner, busy)
		}
	}
	return nil
}

// appointmentChanged tells a change of an appointment's title,
// description, place or privacy (a new time comes as its entries'
// rescheduling) to those who see an entry of it without taking part: in
// full to those allowed the details of one of its entries now, and, if its
// privacy changed, as busy time to those who saw an entry of it in full
// until then and now only as busy (one frame each: of the first such
// entry; those who saw it as busy before learn nothing). They are the
// superiors of a personal appointment's owner, and the members of a group
// who joined after its appointment was set (reviews found both never
// told, their group views stale). Those who take part have the event
// already: the first entry decided for a user stays.
func (f *feed) appointmentChanged(e events.AppointmentUpdated) error {
	if f.before.OwnerID == "" {
		return nil // no such appointment
	}
	owners := []string{f.before.OwnerID}
	if f.before.GroupID != "" {
		var err error
		if owners, err = f.tx.ParticipantIDs(e.AppointmentID); err != nil {
			return err
		}
	}
	// The entries of it a group agenda shows (those that block time), and
	// who sees each, now and (if its privacy changed) before.
	type seen struct {
		owner        string
		slot         readmodel.EntrySlot
		now, earlier []readmodel.EntryViewer
	}
	changed := e.Privacy != f.before.Privacy
	var shown []seen
	for _, owner := range owners {
		slot, err := f.tx.AgendaEntrySlot(owner, e.AppointmentID)
		if err != nil {
			return err
		}
		if !slot.Found || !agenda.Blocks(slot.Role) {
			continue
		}
		en := seen{owner: owner, slot: slot}
		if en.now, err = f.tx.EntryViewers(owner, e.AppointmentID); err != nil {
			return err
		}
		if changed {
			if en.earlier, err = f.tx.EntryViewersAt(owner, e.AppointmentID, f.before.Privacy); err != nil {
				return err
			}
		}
		shown = append(shown, en)
	}
	omitted := f.tx.FeedOmitted(f.env.Position)
	var detail json.RawMessage
	for _, en := range shown {
		for _, v := range en.now {
			if v.Level != agenda.SeeDetails || v.TakesPart {
				continue
			}
			if detail == nil && !omitted {
				var err error
				if detail, err = f.detailed(e.AppointmentID); err != nil {
					return err
				}
			}
			f.to(v.UserID, detail)
		}
	}
	for _, en := range shown {
		sawDetails := map[string]bool{}
		for _, v := range en.earlier {
			sawDetails[v.UserID] = v.Level == agenda.SeeDetails && !v.TakesPart
		}
		var busy json.RawMessage
		for _, v := range en.now {
			if v.Level != agenda.SeeBusy || !sawDetails[v.UserID] {
				continue
			}
			f.revoked = append(f.revoked, v.UserID)
			if busy == nil && !omitted {
				var err error
				if busy, err = busyFrame(en.owner, en.slot, readmodel.EntrySlot{}, true); err != nil {
					return err
				}
			}
			f.toViewer(v.UserID, en.owner, busy)
		}
	}
	return nil
}

// revokeDetailsOf closes the feed of those who see the organiser's entry of
// appointmentID in full without taking part (a personal appointment's
// owner's superiors), before it is deleted: they may no longer read it.
// Its entries' removals that follow find it gone, and tell them busy time.
func (f *feed) revokeDetailsOf(appointmentID string) error {
	d, err := f.tx.AppointmentDetail(appointmentID)
	if err != nil || d.OwnerID == "" {
		return err
	}
	viewers, err := f.tx.EntryViewers(d.OwnerID, appointmentID)
	if err != nil {
		return err
	}
	for _, v := range viewers {
		if v.Level == agenda.SeeDetails && !v.TakesPart {
			f.revoked = append(f.revoked, v.UserID)
		}
	}
	return nil
}

// busyFrame is what a viewer limited to busy time is told of owner's entry
// at slot: {user_id, start, end, busy}, and, if it moved from where it was
// (before, when found), previous_start and previous_end, so that a client
// knows which of the owner's busy times moved. busy says whether it blocks
// time now.
func busyFrame(owner string, slot, before readmodel.EntrySlot, busy bool) (json.RawMessage, error) {
	frame := map[string]any{"user_id": owner, "start": slot.Start, "end": slot.End, "busy": busy}
	if before.Found && (!before.Start.Equal(slot.Start) || !before.End.Equal(slot.End)) {
		frame["previous_start"], frame["previous_end"] = before.Start, before.End
	}
	return json.Marshal(frame)
}

// detailed is the event's data with the appointment's descriptive fields,
// for a viewer allowed the details of someone else's entry.
func (f *feed) detailed(appointmentID string) (json.RawMessage, error) {
	d, err := f.tx.AppointmentDetail(appointmentID)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(f.env.Data, &m); err != nil {
		return nil, err
	}
	m["title"], m["description"], m["location"], m["privacy"] = d.Title, d.Description, d.Location, d.Privacy
	if d.GroupID != "" {
		m["group_id"] = d.GroupID
	}
	return json.Marshal(m)
}
