package agenda

// EntryView is what decides whether a viewer of a group agenda sees the
// details of one entry in a member's agenda.
type EntryView struct {
	// Hierarchical is the kind of the group whose agenda is viewed.
	Hierarchical bool
	// GroupID is the group whose agenda is viewed.
	GroupID string
	// ViewerRank and MemberRank are the ranks in that group of the viewer
	// and of the member whose agenda holds the entry.
	ViewerRank, MemberRank int
	// Own is true when the entry is in the viewer's own agenda.
	Own bool
	// TakesPart is true when the viewer takes part in the appointment too
	// (it is in their own agenda as well).
	TakesPart bool
	// Privacy is the appointment's privacy.
	Privacy string
	// EntryGroupID is the appointment's group; "" for a personal one.
	EntryGroupID string
}

// SeesDetails is the visibility rule of group agendas: a viewer sees an
// entry's details if it is their own or they take part in it, or if, in a
// hierarchical group, they rank above the member (Group.CanManage), the
// entry's privacy is full, and it is the member's personal appointment or
// one of this same group. Everything else shows only as busy time, so no group reveals what
// its members do in other groups. readmodel.GroupAgenda repeats the rule in
// SQL (so hidden titles never leave the database); a table test proves the
// two agree.
func SeesDetails(v EntryView) bool {
	if v.Own || v.TakesPart {
		return true
	}
	viewer := Group{Hierarchical: v.Hierarchical, MyRank: v.ViewerRank}
	return viewer.CanManage(v.MemberRank) && v.Privacy == PrivacyFull &&
		(v.EntryGroupID == "" || v.EntryGroupID == v.GroupID)
}

// Entry visibility levels: what a viewer may know of someone else's entry.
const (
	SeeNothing = iota // no relation: the viewer learns nothing at all
	SeeBusy           // only {start, end, busy}
	SeeDetails        // title, description, location and the appointment's ID
)

// SeesEntry decides what a viewer sees of another person's agenda entry in
// the event feed: views holds one EntryView per group the two are active
// members of. The group agenda's rule, SeesDetails, decides each; the most
// generous group wins (details in one, busy in another: details), any
// shared group shows the time as busy, and no shared group shows nothing.
func SeesEntry(views []EntryView) int {
	level := SeeNothing
	for _, v := range views {
		if SeesDetails(v) {
			return SeeDetails
		}
		level = SeeBusy
	}
	return level
}
