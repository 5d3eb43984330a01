package commands

import "github.com/agendahq/agenda"

// checkIfMatch is the If-Match rule of every write to a single resource:
// ifMatch, the version the caller last saw, must be the resource's current
// version, unless it is 0 (no If-Match, or "*"). EPRECONDITIONFAILED
// otherwise, naming what the resource is at.
func checkIfMatch(noun string, ifMatch, version int64) error {
	if ifMatch != 0 && ifMatch != version {
		return agenda.Errorf(agenda.EPRECONDITIONFAILED, "%s is at version %d, not %d", noun, version, ifMatch)
	}
	return nil
}
