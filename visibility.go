package agenda

// EntryRelation is what links a viewer to another member's agenda entry
// through one group they share. The read model gathers these facts; the rule
// that turns them into what the viewer may see lives here, once, in
// SeesEntry, so that the group agenda, the event feed and the WebSocket
// stream can never disagree about it.
type EntryRelation struct {
	// GroupID and Hierarchical describe the shared group.
	GroupID      string
	Hierarchical bool
	// ViewerRank and OwnerRank are the two members' ranks in it.
	ViewerRank, OwnerRank int
	// Privacy is the appointment's privacy; AppointmentGroupID its group
	// ("" for a personal appointment).
	Privacy            string
	AppointmentGroupID string
}

// Entry visibility levels: what a viewer may know of someone else's entry.
const (
	SeeNothing = iota // no relation: the viewer learns nothing at all
	SeeBusy           // only {start, end, busy: true}
	SeeDetails        // title, description, location and the appointment's ID
)

// SeesEntry decides what a viewer sees of an owner's agenda entry. A viewer
// who takes part in the appointment sees it in full; otherwise every group
// the two share is a relation, and the most generous one decides: a
// hierarchical group where the viewer outranks the owner shows a `full`
// entry's details; any shared group shows the time as busy. No relation at
// all shows nothing.
func SeesEntry(takesPart bool, relations []EntryRelation) int {
	if takesPart {
		return SeeDetails
	}
	level := SeeNothing
	for _, r := range relations {
		if r.Hierarchical && r.ViewerRank > r.OwnerRank && r.Privacy == PrivacyFull {
			return SeeDetails
		}
		level = SeeBusy
	}
	return level
}
