package readmodel_test

import (
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// insertUsers stores users through the users projection.
func insertUsers(tb testing.TB, db *readmodel.DB, us ...agenda.User) {
	tb.Helper()
	mustApply(tb, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		for _, u := range us {
			if err := tx.InsertUser(u); err != nil {
				return err
			}
		}
		return nil
	})
}

// seedMember is one membership to store with seedGroup.
type seedMember struct {
	user    string
	rank    int
	version int64
}

// seedGroup stores a group and its members as the planning projection would:
// the group row ends at the version of its last member.
func seedGroup(tb testing.TB, db *readmodel.DB, g readmodel.GroupRecord, members ...seedMember) {
	tb.Helper()
	mustApply(tb, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		if err := tx.InsertGroup(g); err != nil {
			return err
		}
		last := g.Version
		for i, m := range members {
			joined := g.At.Add(time.Duration(i) * time.Minute)
			if err := tx.SetMember(g.ID, m.user, m.rank, joined, "node-m"); err != nil {
				return err
			}
			last = max(last, m.version)
		}
		return tx.TouchGroup(g.ID, g.At.Add(time.Hour), last, "node-t")
	})
}

// groupBooking is an appointment with its participants' roles; every role
// but pending and declined also puts an entry in the participant's agenda,
// and a pending one an entry that does not block.
type groupBooking struct {
	rec   readmodel.AppointmentRecord
	roles map[string]string // user → role, the owner included
}

// bookGroup stores group bookings as the planning projection would.
func bookGroup(tb testing.TB, db *readmodel.DB, bs ...groupBooking) {
	tb.Helper()
	mustApply(tb, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		for _, b := range bs {
			if err := tx.InsertAppointment(b.rec); err != nil {
				return err
			}
			for u, role := range b.roles {
				if err := tx.SetParticipant(b.rec.ID, u, role, b.rec.Version, b.rec.OriginNode); err != nil {
					return err
				}
				if role == agenda.RoleDeclined {
					continue
				}
				if err := tx.AddAgendaEntry(u, b.rec.ID, b.rec.Start, b.rec.End, role, b.rec.OriginNode); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// groupAppt is an appointment record of group (or personal if group is "").
func groupAppt(id, owner, group, privacy, status string, start, end time.Time) readmodel.AppointmentRecord {
	r := appointmentRecord(id, owner, start, end)
	r.GroupID, r.Privacy, r.Status = group, privacy, status
	return r
}
