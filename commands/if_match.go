package commands

import (
	"slices"

	"github.com/agendahq/agenda"
)

// IfMatch is a write's If-Match precondition (RFC 9110 13.1.1): the
// versions the caller accepts the resource being at, any of them. The zero
// value (no If-Match, or "*") accepts any version.
type IfMatch struct {
	versions []int64
	given    bool
}

// Versions is the precondition of an If-Match that names these versions
// (strong tags). Named none (its tags only weak, or none of ours), it
// matches no version: the write fails with 412 once the resource is found.
func Versions(vs ...int64) IfMatch { return IfMatch{versions: vs, given: true} }

// checkIfMatch is the If-Match rule of every write to a single resource:
// one of the versions the caller named must be the resource's current
// version, unless it named none (no If-Match, or "*"). EPRECONDITIONFAILED
// otherwise, naming what the resource is at. Commands check it once the
// caller may make the change at all (RFC 9110 13.2.1: a request that would
// fail without the precondition fails for that reason), before the change
// itself is validated or found to change nothing.
func checkIfMatch(noun string, m IfMatch, version int64) error {
	switch {
	case !m.given || slices.Contains(m.versions, version):
		return nil
	case len(m.versions) == 0:
		return agenda.Errorf(agenda.EPRECONDITIONFAILED, "%s is at version %d; If-Match names none of its versions (weak or unknown tags never match)", noun, version)
	case len(m.versions) == 1:
		return agenda.Errorf(agenda.EPRECONDITIONFAILED, "%s is at version %d, not %d", noun, version, m.versions[0])
	}
	return agenda.Errorf(agenda.EPRECONDITIONFAILED, "%s is at version %d, none of the %d versions If-Match names", noun, version, len(m.versions))
}
