package commands

import (
	"strings"
)

func validateGroupFields(name, description string) (string, error) {
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
	if err := validateName("name", name); err != nil {
		return "", err
	}
	return name, validateText("description", description, 2000)
}
