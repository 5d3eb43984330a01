package commands

import "github.com/agendahq/agenda"

// checkIfMatch is the If-Match rule of every write to a single resource:
// ifMatch, the version the caller last saw, must be the resource's current
// version, unless it is 0 (no If-Match, or "*"); a negative one (only weak
// or foreign entity tags) matches nothing. EPRECONDITIONFAILED otherwise,
// naming what the resource is at.
func checkIfMatch(noun string, ifMatch, version int64) error {
	switch {
	case ifMatch == 0 || ifMatch == version:
		return nil
	case ifMatch < 0:
		return agenda.Errorf(agenda.EPRECONDITIONFAILED, "%s is at version %d; If-Match names none of its versions (a weak tag never matches)", noun, version)
	}
	return agenda.Errorf(agenda.EPRECONDITIONFAILED, "%s is at version %d, not %d", noun, version, ifMatch)
}
