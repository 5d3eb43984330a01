package commands

import (
	"strings"
	"testing"

	"github.com/agendahq/agenda"
)

// TestCheckIfMatch: any version named may match (RFC 9110: If-Match is a
// list); the message names the resource's version, never a stand-in for a
// tag that matches nothing (a weak If-Match once answered "at version 1,
// not -1").
func TestCheckIfMatch(t *testing.T) {
	for _, tc := range []struct {
		ifMatch IfMatch
		version int64
		fails   bool
		message string
	}{
		{ifMatch: IfMatch{}, version: 3},
		{ifMatch: Versions(3), version: 3},
		{ifMatch: Versions(2, 3), version: 3},
		{ifMatch: Versions(2), version: 3, fails: true, message: "group is at version 3, not 2"},
		{ifMatch: Versions(1, 2), version: 3, fails: true, message: "group is at version 3, none of the 2 versions If-Match names"},
		{ifMatch: Versions(), version: 3, fails: true, message: "group is at version 3; If-Match names none of its versions (weak or unknown tags never match)"},
	} {
		err := checkIfMatch("group", tc.ifMatch, tc.version)
		if !tc.fails {
			if err != nil {
				t.Errorf("If-Match %v at version %d: %v, want a match", tc.ifMatch, tc.version, err)
			}
			continue
		}
		if agenda.ErrorCode(err) != agenda.EPRECONDITIONFAILED || agenda.ErrorMessage(err) != tc.message {
			t.Errorf("If-Match %v at version %d: %s %q, want %s %q", tc.ifMatch, tc.version,
				agenda.ErrorCode(err), agenda.ErrorMessage(err), agenda.EPRECONDITIONFAILED, tc.message)
		}
		if strings.Contains(agenda.ErrorMessage(err), "-1") {
			t.Errorf("message %q shows the stand-in -1", agenda.ErrorMessage(err))
		}
	}
}
