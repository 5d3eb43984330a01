package events

import "fmt"

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
//	1  every type at schema version 1. Builds before 54d06b9 announce
//	   none and count as 1, though those from c657ed3 on read level 2
//	   (and write it, whatever the others run, up to 75ba785).
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

// AboveLevelError refuses a batch holding an event form above the cluster's
// event level as the leader counts it: a node that does not read the form
// joined, or announced a lower level, after the batch was decided on a view
// that did not know it yet. The command decides again at Level or below.
type AboveLevelError struct {
	Level         int
	Type          string
	SchemaVersion int
}

func (e *AboveLevelError) Error() string {
	return fmt.Sprintf("%s v%d is above the cluster's event level %d", e.Type, e.SchemaVersion, e.Level)
}

// CheckLevel returns an *AboveLevelError for the first event of b that
// builds of level do not read.
func CheckLevel(b Batch, level int) error {
	for i := range b.Events {
		e := &b.Events[i]
		if LevelOf(e.Type, e.SchemaVersion) > level {
			return &AboveLevelError{Level: level, Type: e.Type, SchemaVersion: e.SchemaVersion}
		}
	}
	return nil
}
