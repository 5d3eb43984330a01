package commands

import (
	"context"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
)

// CreateGroup creates a group whose only member is its creator.
type CreateGroup struct {
	ActorID      string
	Name         string
	Description  string
	Hierarchical bool
}

// CreateGroup creates a group. EINVALID for a bad name or description.
func (h *Handlers) CreateGroup(ctx context.Context, cmd CreateGroup) (Result, error) {
	name, err := validateGroupFields(cmd.Name, cmd.Description, "", "")
	if err != nil {
		return Result{}, err
	}
	id := h.newID()
	return h.execute(ctx, id, func() (*batch, error) {
		creator, err := h.Read.UserByID(ctx, cmd.ActorID)
		if err != nil {
			return nil, err
		}
		b := h.newBatch(ctx, cmd.ActorID)
		b.expect(events.GroupStream(id), 0)
		created := events.GroupCreated{
			GroupID: id, Name: name, Description: cmd.Description, Hierarchical: cmd.Hierarchical, CreatorID: cmd.ActorID,
			CreatorFollows: !b.clusterReads("group.created", 2),
		}
		b.add(events.GroupStream(id), created)
		if created.CreatorFollows {
			b.add(events.GroupStream(id), events.GroupMemberAdded{
				GroupID: id, UserID: cmd.ActorID, Rank: agenda.CreatorRank(cmd.Hierarchical),
			})
		}
		b.group = answer(groupAfter(agenda.Group{}, b, id, cmd.ActorID, map[string]joiner{creator.ID: {who: creator.Summary()}}))
		return b, nil
	})
}
