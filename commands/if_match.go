package commands

import "github.com/agendahq/agenda"

// NeverMatches is the IfMatch of a command whose If-Match header named only
// tags no version can match strongly (weak ones, or none of ours): the
// precondition fails (412) once the resource is found.
const NeverMatches = -1

// checkIfMatch is the If-Match rule of every write to a single resource:
// ifMatch, the version the caller last saw, must be the resource's current
// version, unless it is 0 (no If-Match, or "*"). EPRECONDITIONFAILED
// otherwise, naming what the resource is at. Commands check it once the
// caller may make the change at all (RFC 9110 13.2.1: a request that would
// fail without the precondition fails for that reason), before the change
// itself is validated or found to change nothing.
func checkIfMatch(noun string, ifMatch, version int64) error {
	switch {
	case ifMatch == 0 || ifMatch == version:
		return nil
	case ifMatch == NeverMatches:
		return agenda.Errorf(agenda.EPRECONDITIONFAILED, "%s is at version %d; If-Match names none of its versions (weak or unknown tags never match)", noun, version)
	}
	return agenda.Errorf(agenda.EPRECONDITIONFAILED, "%s is at version %d, not %d", noun, version, ifMatch)
}
