package commands

import (
	"strings"
)

// validateGroupFields checks a group's name and description and returns
// the name as stored. was is the name the group has (none for a new one):
// kept as it is, it is not checked again by rules newer than it
// (validateName), so that an old group can still be described.
func validateGroupFields(name, description, was string) (string, error) {
	name = strings.TrimSpace(name)
	if blank(name) {
		return "", invalid("name", "name is required")
	}
	if err := validateText("name", name, 100); err != nil {
		return "", err
	}
	if strings.ContainsAny(name, "\n\r\t") {
		return "", invalid("name", "name must be one line")
	}
	if name != was {
		if err := validateName("name", name); err != nil {
			return "", err
		}
	}
	return name, validateText("description", description, 2000)
}
