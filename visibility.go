package agenda

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
