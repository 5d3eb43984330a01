package commands

import (
	"strings"
)

// validateGroupFields checks a group's name and description and returns
// the name as stored. was and wasDescription are what the group has (none
// for a new one): kept as they are, they are not checked again by rules
// newer than them (validateName, validateNewText), so that an old group can
// still be described or renamed.
func validateGroupFields(name, description, was, wasDescription string) (string, error) {
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
	if err := validateText("description", description, 2000); err != nil {
		return "", err
	}
	if description != wasDescription {
		if err := validateNewText("description", description); err != nil {
			return "", err
		}
	}
	return name, nil
}
