package commands

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agendahq/agenda"
)

// invalid returns an EINVALID error naming the offending field.
func invalid(field, format string, args ...any) *agenda.Error {
	return agenda.Errorf(agenda.EINVALID, format, args...).WithDetails(map[string]any{"field": field})
}

var usernameRE = regexp.MustCompile(`^[a-z0-9_.-]{3,32}$`)

func validateUsername(u string) error {
	if !usernameRE.MatchString(u) {
		return invalid("username", "username must be 3 to 32 characters of a-z, 0-9, '_', '.' or '-'")
	}
	return nil
}

// bcrypt reads at most 72 bytes; longer passwords are refused rather than
// silently truncated.
func validatePassword(field, p string) error {
	switch {
	case utf8.RuneCountInString(p) < 8:
		return invalid(field, "%s must be at least 8 characters", field)
	case len(p) > 72:
		return invalid(field, "%s must be at most 72 bytes", field)
	case !utf8.ValidString(p):
		return invalid(field, "%s must be valid UTF-8", field)
	}
	return nil
}

// validateText checks a free-text field: valid UTF-8, no control characters
// other than newlines and tabs, at most max characters.
func validateText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid(field, "%s must be valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid(field, "%s must be at most %d characters (got %d)", field, max, n)
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f {
			return invalid(field, "%s contains a control character", field)
		}
	}
	return nil
}

// validateName checks what names a person, a group or an appointment in
// the lists where others read it (a display name, a group's name, a title,
// a location): no explicit bidirectional embedding, override or isolate
// (U+202A–U+202E, U+2066–U+2069). Those make a name read as another's, or
// reverse the text after it where it is shown ("Alice\u202e" in an
// invitation); right-to-left scripts need none of them in a single name.
// Joiners and the implicit marks (U+200C, U+200D, U+200E, U+200F), which
// scripts and emoji do need, stay allowed.
//
// A name is also one line of text: no control character (C0 or C1: tabs,
// line breaks, U+0085, the terminal escapes U+009B…), nor a line or
// paragraph separator (U+2028, U+2029). A review stored titles holding
// them, which lists then broke or hid.
//
// A name given is also one that shows something, if it is not blank (a
// location of blanks is no location): not only the characters Unicode says
// to render as nothing where they are not supported
// (Default_Ignorable_Code_Point: the grapheme joiner U+034F, the variation
// selectors, tags…) besides blanks. A review set a display name of one
// U+034F, which read as no name at all.
func validateName(field, s string) error {
	if !blank(s) && !strings.ContainsFunc(s, func(r rune) bool { return !invisible(r) && !ignorable(r) }) {
		return invalid(field, "%s shows nothing: it holds only blanks and invisible characters", field)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 }) {
		return invalid(field, "%s contains a bidirectional control character (U+202A–U+202E, U+2066–U+2069)", field)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) {
		return invalid(field, "%s must be one line, without control characters", field)
	}
	return nil
}

// validateNewText checks what validateText does not, for a free text that
// is new (a text kept as stored is not checked again): no C1 control
// character (U+0080–U+009F), which no text means and terminals obey.
func validateNewText(field, s string) error {
	if strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 && r <= 0x9f }) {
		return invalid(field, "%s contains a control character", field)
	}
	return nil
}

// blank reports whether s shows nothing: only white space, format
// characters (zero-width space, joiners, the byte order mark) and the
// fillers that render as blank. A review found a title of one zero-width
// space accepted where one of spaces was refused.
func blank(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return !invisible(r) })
}

// invisible reports whether r is one of the characters blank counts as
// showing nothing.
func invisible(r rune) bool {
	switch {
	case unicode.IsSpace(r), unicode.Is(unicode.Cf, r):
	case r == '\u115F', r == '\u1160', r == '\u3164', r == '\uFFA0', r == '\u2800':
	default:
		return false
	}
	return true
}

// ignorable reports whether Unicode makes r a default ignorable code point
// beyond the format characters invisible already counts: rendered as
// nothing by a system that does not support it. Checked only on names that
// are new (validateName), as the rule is newer than some stored names.
func ignorable(r rune) bool {
	return unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r)
}

// validateNewEmail checks what an e-mail address set anew must be beyond
// validateEmail: no character that shows nothing (format characters such
// as bidirectional controls, marks, zero-width spaces and joiners; default
// ignorable ones; the blank fillers) and no control character (C1), which
// no address needs and net/mail lets through. An attacker's review stored
// one that began with U+202E, which reversed it on the page.
func validateNewEmail(e string) error {
	if i := strings.IndexFunc(e, func(r rune) bool { return invisible(r) || ignorable(r) || unicode.IsControl(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(e[i:])
		return invalid("email", "email contains an invisible or control character (U+%04X)", r)
	}
	return nil
}

func validateEmail(e string) error {
	if e == "" {
		return nil
	}
	if err := validateText("email", e, 254); err != nil {
		return err
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return invalid("email", "email must be a plain address such as ana@example.com")
	}
	return nil
}

// validateDisplayName checks what every display name sent must be; a new
// one (not the one stored) must also pass validateName, whose rules are
// newer than some stored names.
func validateDisplayName(d string) error {
	if blank(d) {
		return invalid("display_name", "display_name may not be blank")
	}
	if err := validateText("display_name", d, 100); err != nil {
		return err
	}
	if strings.ContainsAny(d, "\n\r\t") {
		return invalid("display_name", "display_name must be one line")
	}
	return nil
}

// ValidateInterval checks an appointment's or a query's time range: both
// ends set, within years 1900–2200, end after start, and no longer than max.
func ValidateInterval(start, end time.Time, max time.Duration) error {
	switch {
	case start.IsZero():
		return invalid("start", "start is required")
	case end.IsZero():
		return invalid("end", "end is required")
	case start.Before(agenda.MinTime) || !start.Before(agenda.MaxTime):
		return invalid("start", "start must be between 1900 and 2200")
	case end.Before(agenda.MinTime) || end.After(agenda.MaxTime):
		return invalid("end", "end must be between 1900 and 2200")
	case !end.After(start):
		return invalid("end", "end must be after start")
	case end.Sub(start) > max:
		return invalid("end", "the interval may span at most %s", agenda.SpanWords(max))
	}
	return nil
}

func validatePrivacy(p string) error {
	if p != agenda.PrivacyFull && p != agenda.PrivacyFreeBusy {
		return invalid("privacy", "privacy must be %q or %q", agenda.PrivacyFull, agenda.PrivacyFreeBusy)
	}
	return nil
}
