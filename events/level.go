package events

// Level is this build's event level: which event types and schema versions
// it reads. A build halts on an event it cannot read, as it must (a replica
// that skipped one would diverge), so during a rolling update a node still
// on an older build would halt at the first event in a newer form. Nodes
// therefore announce their level to each other (cluster gossip), and
// commands write a form only once every node of the cluster reads it: the
// cluster's level is the lowest one announced (see LevelOf and
// cluster.Agent.EventLevel).
//
// The levels:
//
//	1  every type at schema version 1. Builds before levels (75ba785)
//	   announce none and count as 1, though those from c657ed3 on read
//	   level 2: they cannot say so.
//	2  group.created at version 2 (the creator a member, instead of a
//	   group.member_added after it) and appointment.created at version 2
//	   (its participants, instead of an appointment.participant_added each)
//
// Writing a new event type or schema version means a new level: raise
// Level, list the form in introduced, and keep writing the older form
// while the cluster is below it (TestEveryFormHasALevel fails until the
// form is listed).
const Level = 2

// MinLevel is the level of a build that announces none.
const MinLevel = 1

// introduced lists the forms above MinLevel with the level that reads them.
var introduced = map[string]map[int]int{
	"group.created":       {2: 2},
	"appointment.created": {2: 2},
}

// LevelOf returns the event level from which builds read typ at schema
// version schema.
func LevelOf(typ string, schema int) int {
	if l, ok := introduced[typ][schema]; ok {
		return l
	}
	return MinLevel
}
