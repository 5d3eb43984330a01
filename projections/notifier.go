package projections

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// notificationNamespace names the UUIDs of notifications: a notification's
// ID is derived from the event and the recipient, so a rebuild of the read
// model gives every notification the ID it had, and "mark read" events in
// the log still point at the right one.
var notificationNamespace = uuid.MustParse("5b0d7a0e-8a8e-4d7c-9c59-2f0b1f3b8e21")

// notifier derives the notifications of one event. The actor of the event
// is never notified of what they did themselves.
type notifier struct {
	tx  *readmodel.Tx
	env *events.Envelope
}

// appointment notifies the users chosen by to of an event about an
// appointment. The payload describes the appointment; every recipient takes
// part in it, so they may see all of it.
func (n notifier) appointment(id, typ string, to func(readmodel.AppointmentInfo) ([]string, error), extra map[string]any) error {
	a, err := n.tx.AppointmentInfo(id)
	if err != nil {
		return err
	}
	payload := map[string]any{
		"appointment_id": a.ID, "title": a.Title, "start": a.Start, "end": a.End,
		"organiser_id": a.OwnerID, "status": a.Status, "by": n.env.Actor,
	}
	if a.GroupID != "" {
		payload["group_id"] = a.GroupID
	}
	for k, v := range extra {
		payload[k] = v
	}
	users, err := to(a)
	if err != nil {
		return err
	}
	return n.send(users, typ, payload)
}

// onlyTo addresses an appointment's notification to the one user it names.
func onlyTo(user func(readmodel.AppointmentInfo) string) func(readmodel.AppointmentInfo) ([]string, error) {
	return func(a readmodel.AppointmentInfo) ([]string, error) { return []string{user(a)}, nil }
}

// toOrganiser addresses an appointment's notification to its organiser.
var toOrganiser = onlyTo(func(a readmodel.AppointmentInfo) string { return a.OwnerID })

// participants notifies every participant still taking part (not those who
// declined).
func (n notifier) participants(id, typ string, extra map[string]any) error {
	return n.appointment(id, typ, func(a readmodel.AppointmentInfo) ([]string, error) {
		statuses, err := n.tx.ParticipantStatuses(id)
		var out []string
		for user, status := range statuses {
			if status != agenda.RoleDeclined {
				out = append(out, user)
			}
		}
		return out, err
	}, extra)
}

// group notifies one user of a membership change in a group.
func (n notifier) group(groupID, typ, to string, extra map[string]any) error {
	g, err := n.tx.GroupInfo(groupID)
	if err != nil {
		return err
	}
	payload := map[string]any{"group_id": g.ID, "group_name": g.Name, "by": n.env.Actor}
	for k, v := range extra {
		payload[k] = v
	}
	return n.send([]string{to}, typ, payload)
}

// send notifies users with payload, but never the actor. The body is the
// same for every recipient, so it is encoded once; map keys are sorted, so
// a rebuild writes the bytes the live projector wrote.
func (n notifier) send(users []string, typ string, payload map[string]any) error {
	var body []byte
	for _, user := range users {
		if user == "" || user == n.env.Actor {
			continue
		}
		if body == nil {
			var err error
			if body, err = json.Marshal(payload); err != nil {
				return err
			}
		}
		err := n.tx.InsertNotification(readmodel.NotificationRecord{
			ID:     uuid.NewSHA1(notificationNamespace, []byte(n.env.ID+"/"+user)).String(),
			UserID: user, Type: typ, Payload: body, At: n.env.Time,
			Position: n.env.Position, Version: 1, OriginNode: n.env.OriginNode,
		})
		if err != nil {
			return err
		}
	}
	return nil
}
