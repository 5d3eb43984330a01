package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// UpdateGroup renames or describes a group; nil fields keep their value.
type UpdateGroup struct {
	ActorID     string
	GroupID     string
	Name        *string
	Description *string
	IfMatch     IfMatch
}

// UpdateGroup changes a group. ENOTFOUND for non-members, EFORBIDDEN unless
// the caller created it, EPRECONDITIONFAILED, EINVALID.
func (h *Handlers) UpdateGroup(ctx context.Context, cmd UpdateGroup) (Result, error) {
	return h.execute(ctx, cmd.GroupID, func() (*batch, error) {
		g, err := h.Read.Group(ctx, cmd.GroupID, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		if g.CreatorID != cmd.ActorID {
			return nil, agenda.Errorf(agenda.EFORBIDDEN, "only the group's creator may change it")
		}
		if err := checkIfMatch("group", cmd.IfMatch, g.Version); err != nil {
			return nil, err
		}
		name, desc := g.Name, g.Description
		set(&name, cmd.Name)
		set(&desc, cmd.Description)
		if name, err = validateGroupFields(name, desc, g.Name, g.Description); err != nil {
			return nil, err
		}
		if name == g.Name && desc == g.Description {
			b := unchanged() // nothing to change: no new version, no notice
			b.group = &g
			return b, nil
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(g.ID), g.Version)
		b.add(events.GroupStream(g.ID), events.GroupUpdated{GroupID: g.ID, Name: name, Description: desc})
		b.group = answer(groupAfter(g, b, g.ID, cmd.ActorID, nil))
		return b, nil
	})
}
