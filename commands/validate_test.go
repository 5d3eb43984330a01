package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

// validationCase runs one command with one bad field.
type validationCase struct {
	name  string
	run   func(h *commands.Handlers) error
	field string
}

func runValidationCases(t *testing.T, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			h := newHandlers(log, world(t))
			err := tc.run(h)
			wantCode(t, err, agenda.EINVALID, tc.field)
			if n := len(log.proposed()); n != 0 {
				t.Errorf("proposed %d batches for an invalid command, want none", n)
			}
		})
	}
}

func TestRegisterUserValidation(t *testing.T) {
	ctx := context.Background()
	reg := func(mod func(c *commands.RegisterUser)) func(h *commands.Handlers) error {
		return func(h *commands.Handlers) error {
			c := commands.RegisterUser{Username: "carla", Password: password, DisplayName: "Carla", Email: "carla@example.com"}
			mod(&c)
			_, err := h.RegisterUser(ctx, c)
			return err
		}
	}
	runValidationCases(t, []validationCase{
		{name: "username too short", field: "username", run: reg(func(c *commands.RegisterUser) { c.Username = "ab" })},
		{name: "username too long", field: "username", run: reg(func(c *commands.RegisterUser) { c.Username = strings.Repeat("a", 33) })},
		{name: "username with capitals", field: "username", run: reg(func(c *commands.RegisterUser) { c.Username = "Carla" })},
		{name: "username with a space", field: "username", run: reg(func(c *commands.RegisterUser) { c.Username = "car la" })},
		{name: "username with a LIKE wildcard", field: "username", run: reg(func(c *commands.RegisterUser) { c.Username = "car%la" })},
		{name: "empty username", field: "username", run: reg(func(c *commands.RegisterUser) { c.Username = "" })},
		{name: "password too short", field: "password", run: reg(func(c *commands.RegisterUser) { c.Password = "1234567" })},
		{name: "password over bcrypt's 72 bytes", field: "password", run: reg(func(c *commands.RegisterUser) { c.Password = strings.Repeat("é", 37) })},
		{name: "password not UTF-8", field: "password", run: reg(func(c *commands.RegisterUser) { c.Password = strings.Repeat("\xff", 8) })},
		{name: "display name with a newline", field: "display_name", run: reg(func(c *commands.RegisterUser) { c.DisplayName = "Car\nla" })},
		{name: "display name with a tab", field: "display_name", run: reg(func(c *commands.RegisterUser) { c.DisplayName = "Car\tla" })},
		{name: "display name with a control character", field: "display_name", run: reg(func(c *commands.RegisterUser) { c.DisplayName = "Car\x00la" })},
		{name: "display name too long", field: "display_name", run: reg(func(c *commands.RegisterUser) { c.DisplayName = strings.Repeat("x", 101) })},
		{name: "display name of a zero-width space", field: "display_name", run: reg(func(c *commands.RegisterUser) { c.DisplayName = "\u200b" })},
		{name: "email without an at sign", field: "email", run: reg(func(c *commands.RegisterUser) { c.Email = "carla.example.com" })},
		{name: "email with a display name", field: "email", run: reg(func(c *commands.RegisterUser) { c.Email = "Carla <carla@example.com>" })},
		{name: "email with surrounding space", field: "email", run: reg(func(c *commands.RegisterUser) { c.Email = " carla@example.com" })},
		{name: "email too long", field: "email", run: reg(func(c *commands.RegisterUser) { c.Email = strings.Repeat("a", 250) + "@example.com" })},
		// Default ignorable characters show nothing either (an attacker's
		// review set a display name of one grapheme joiner).
		{name: "display name of a grapheme joiner", field: "display_name", run: reg(func(c *commands.RegisterUser) { c.DisplayName = "\u034f" })},
		{name: "display name of variation selectors", field: "display_name", run: reg(func(c *commands.RegisterUser) { c.DisplayName = "\ufe0f\U000e0100 " })},
		{name: "email with a right-to-left override", field: "email", run: reg(func(c *commands.RegisterUser) { c.Email = "\u202ecarla@example.com" })},
	})

	t.Run("valid edge cases are accepted", func(t *testing.T) {
		for _, c := range []commands.RegisterUser{
			{Username: "a.b-c_9", Password: strings.Repeat("p", 72)},
			{Username: "abc", Password: "12345678", DisplayName: strings.Repeat("é", 100), Email: ""},
		} {
			h := newHandlers(&fakeLog{}, newFakeRead())
			if _, err := h.RegisterUser(context.Background(), c); err != nil {
				t.Errorf("RegisterUser(%q): %v", c.Username, err)
			}
		}
	})
}

func TestChangeProfileValidation(t *testing.T) {
	ctx := context.Background()
	change := func(display, email *string) func(h *commands.Handlers) error {
		return func(h *commands.Handlers) error {
			_, err := h.ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", DisplayName: display, Email: email})
			return err
		}
	}
	runValidationCases(t, []validationCase{
		{name: "empty display name", field: "display_name", run: change(ptr(""), nil)},
		{name: "display name with a newline", field: "display_name", run: change(ptr("A\nB"), nil)},
		{name: "display name too long", field: "display_name", run: change(ptr(strings.Repeat("x", 101)), nil)},
		{name: "display name not UTF-8", field: "display_name", run: change(ptr("\xffAna"), nil)},
		// Bidirectional controls make a name read as another's (a review).
		{name: "display name with a right-to-left override", field: "display_name", run: change(ptr("Alice\u202e"), nil)},
		{name: "display name with an isolate", field: "display_name", run: change(ptr("\u2067Bob\u2069"), nil)},
		{name: "display name with a C1 control", field: "display_name", run: change(ptr("Bo\u0085b"), nil)},
		{name: "display name with a paragraph separator", field: "display_name", run: change(ptr("Bob\u2029Ana"), nil)},
		{name: "display name of blanks", field: "display_name", run: change(ptr("   "), nil)},
		{name: "malformed email", field: "email", run: change(nil, ptr("ana@"))},
		{name: "email with a name", field: "email", run: change(nil, ptr("Ana <ana@example.com>"))},
		{name: "display name of a grapheme joiner", field: "display_name", run: change(ptr("\u034f"), nil)},
		{name: "display name of a Hangul filler and a Mongolian variation selector", field: "display_name", run: change(ptr("\u3164\u180b"), nil)},
		{name: "email with a right-to-left override", field: "email", run: change(nil, ptr("\u202eevil@x.com"))},
		{name: "email with a zero-width space", field: "email", run: change(nil, ptr("ana\u200b@example.com"))},
		{name: "email with an Arabic letter mark", field: "email", run: change(nil, ptr("ana@exa\u061cmple.com"))},
		{name: "email with a grapheme joiner", field: "email", run: change(nil, ptr("ana\u034f@example.com"))},
		{name: "email with a C1 control", field: "email", run: change(nil, ptr("ana\u0085@example.com"))},
		{name: "email with a Hangul filler", field: "email", run: change(nil, ptr("ana\u3164@example.com"))},
	})
	// A display name is stored without the blanks around it, as titles and
	// group names are (a review found "  Ana  " kept whole).
	log := &fakeLog{}
	if _, err := newHandlers(log, world(t)).ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", DisplayName: ptr("  Ana B.  ")}); err != nil {
		t.Fatal(err)
	}
	if len(log.batches) != 1 || !strings.Contains(string(log.batches[0].Events[0].Data), `"display_name":"Ana B."`) {
		t.Errorf("a display name with blanks around it was proposed as %+v, want it trimmed", log.batches)
	}
	// What scripts and emoji need stays allowed: right-to-left text, its
	// implicit marks, joiners.
	for _, name := range []string{"مريم", "مريم\u200f (Maryam)", "می\u200cخواهم", "👩\u200d💻 Ana", "❤\ufe0f Ana", "e\u0301"} {
		if err := change(ptr(name), nil)(newHandlers(&fakeLog{}, world(t))); err != nil {
			t.Errorf("display name %q refused: %v", name, err)
		}
	}
}

func TestChangePasswordValidation(t *testing.T) {
	ctx := context.Background()
	runValidationCases(t, []validationCase{
		{name: "new password too short", field: "new_password", run: func(h *commands.Handlers) error {
			_, err := h.ChangePassword(ctx, commands.ChangePassword{UserID: "ana", CurrentPassword: password, NewPassword: "short"})
			return err
		}},
		{name: "new password too long", field: "new_password", run: func(h *commands.Handlers) error {
			_, err := h.ChangePassword(ctx, commands.ChangePassword{UserID: "ana", CurrentPassword: password, NewPassword: strings.Repeat("x", 73)})
			return err
		}},
	})

	t.Run("wrong current password is forbidden", func(t *testing.T) {
		log := &fakeLog{}
		h := newHandlers(log, world(t))
		_, err := h.ChangePassword(ctx, commands.ChangePassword{UserID: "ana", CurrentPassword: "not the password", NewPassword: "a new password"})
		wantCode(t, err, agenda.EFORBIDDEN, "current_password")
		if n := len(log.proposed()); n != 0 {
			t.Errorf("proposed %d batches, want none", n)
		}
	})
}

// appointmentCases are the bad appointment fields shared by create and
// update; apply sets them on a command.
type appointmentFields struct {
	title, description, location, privacy *string
	start, end                            *time.Time
}

var badAppointmentFields = []struct {
	name   string
	fields appointmentFields
	field  string
}{
	{name: "empty title", field: "title", fields: appointmentFields{title: ptr("")}},
	{name: "title with a bidirectional override", field: "title", fields: appointmentFields{title: ptr("Pay \u202Dnoitavres")}},
	{name: "location with an embedding", field: "location", fields: appointmentFields{location: ptr("\u202BRoom 1")}},
	{name: "blank title", field: "title", fields: appointmentFields{title: ptr("  \t ")}},
	{name: "title of a zero-width space", field: "title", fields: appointmentFields{title: ptr("\u200b")}},
	{name: "title of invisible characters", field: "title", fields: appointmentFields{title: ptr(" \u2060\ufeff\u3164 ")}},
	{name: "title too long", field: "title", fields: appointmentFields{title: ptr(strings.Repeat("t", 201))}},
	{name: "title on two lines", field: "title", fields: appointmentFields{title: ptr("a\nb")}},
	{name: "title with a control character", field: "title", fields: appointmentFields{title: ptr("a\x1bb")}},
	// C1 controls, tabs and line separators in a name (a review stored them).
	{name: "title with a C1 control", field: "title", fields: appointmentFields{title: ptr("a\u009bb")}},
	{name: "title with a next line", field: "title", fields: appointmentFields{title: ptr("a\u0085b")}},
	{name: "title with a line separator", field: "title", fields: appointmentFields{title: ptr("a\u2028b")}},
	{name: "title with a tab", field: "title", fields: appointmentFields{title: ptr("a\tb")}},
	{name: "location on two lines", field: "location", fields: appointmentFields{location: ptr("Room 1\nFloor 2")}},
	{name: "location of a grapheme joiner", field: "location", fields: appointmentFields{location: ptr("\u034f")}},
	{name: "title of variation selectors", field: "title", fields: appointmentFields{title: ptr("\ufe0e\ufe0f")}},
	{name: "description with a C1 control", field: "description", fields: appointmentFields{description: ptr("a\u009bb")}},
	{name: "description too long", field: "description", fields: appointmentFields{description: ptr(strings.Repeat("d", 2001))}},
	{name: "description with DEL", field: "description", fields: appointmentFields{description: ptr("a\x7fb")}},
	{name: "location too long", field: "location", fields: appointmentFields{location: ptr(strings.Repeat("l", 201))}},
	{name: "location not UTF-8", field: "location", fields: appointmentFields{location: ptr("\xc3")}},
	{name: "missing start", field: "start", fields: appointmentFields{start: ptr(time.Time{})}},
	{name: "missing end", field: "end", fields: appointmentFields{end: ptr(time.Time{})}},
	{name: "end before start", field: "end", fields: appointmentFields{start: ptr(apptTo), end: ptr(apptFrom)}},
	{name: "end equal to start", field: "end", fields: appointmentFields{start: ptr(apptFrom), end: ptr(apptFrom)}},
	{name: "shorter than a minute", field: "end", fields: appointmentFields{start: ptr(apptFrom), end: ptr(apptFrom.Add(agenda.MinAppointmentDuration - time.Nanosecond))}},
	{name: "a nanosecond long", field: "end", fields: appointmentFields{start: ptr(apptFrom), end: ptr(apptFrom.Add(time.Nanosecond))}},
	{name: "longer than 31 days", field: "end", fields: appointmentFields{start: ptr(apptFrom), end: ptr(apptFrom.Add(agenda.MaxAppointmentDuration + time.Second))}},
	{name: "start before 1900", field: "start", fields: appointmentFields{start: ptr(time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)), end: ptr(time.Date(1900, 1, 1, 1, 0, 0, 0, time.UTC))}},
	{name: "end after 2200", field: "end", fields: appointmentFields{start: ptr(time.Date(2199, 12, 31, 23, 0, 0, 0, time.UTC)), end: ptr(time.Date(2200, 1, 1, 0, 0, 1, 0, time.UTC))}},
	{name: "unknown privacy", field: "privacy", fields: appointmentFields{privacy: ptr("public")}},
}

func TestCreateAppointmentValidation(t *testing.T) {
	ctx := context.Background()
	var cases []validationCase
	for _, bad := range badAppointmentFields {
		bad := bad
		cases = append(cases, validationCase{name: bad.name, field: bad.field, run: func(h *commands.Handlers) error {
			c := commands.CreateAppointment{OwnerID: "ana", Title: "Lunch", Start: apptFrom, End: apptTo}
			setIf(&c.Title, bad.fields.title)
			setIf(&c.Description, bad.fields.description)
			setIf(&c.Location, bad.fields.location)
			setIf(&c.Privacy, bad.fields.privacy)
			setIf(&c.Start, bad.fields.start)
			setIf(&c.End, bad.fields.end)
			_, err := h.CreateAppointment(ctx, c)
			return err
		}})
	}
	runValidationCases(t, cases)

	t.Run("a location of blanks is allowed", func(t *testing.T) {
		h := newHandlers(&fakeLog{}, world(t))
		if _, err := h.CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Call", Location: " ",
			Start: apptFrom, End: apptTo}); err != nil {
			t.Errorf("CreateAppointment: %v", err)
		}
	})
	t.Run("exactly a minute is allowed", func(t *testing.T) {
		h := newHandlers(&fakeLog{}, world(t))
		if _, err := h.CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Call",
			Start: apptFrom, End: apptFrom.Add(agenda.MinAppointmentDuration)}); err != nil {
			t.Errorf("CreateAppointment: %v", err)
		}
	})
	t.Run("exactly 31 days is allowed", func(t *testing.T) {
		h := newHandlers(&fakeLog{}, world(t))
		if _, err := h.CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Trip",
			Start: apptFrom, End: apptFrom.Add(agenda.MaxAppointmentDuration)}); err != nil {
			t.Errorf("CreateAppointment: %v", err)
		}
	})
	t.Run("a longer one is told the limit in days", func(t *testing.T) {
		h := newHandlers(&fakeLog{}, world(t))
		_, err := h.CreateAppointment(ctx, commands.CreateAppointment{OwnerID: "ana", Title: "Trip",
			Start: apptFrom, End: apptFrom.Add(agenda.MaxAppointmentDuration + time.Hour)})
		if err == nil || !strings.Contains(err.Error(), "at most 31 days") {
			t.Errorf("CreateAppointment over 31 days: %v, want the limit said as 31 days", err)
		}
	})
}

func TestUpdateAppointmentValidation(t *testing.T) {
	ctx := context.Background()
	var cases []validationCase
	for _, bad := range badAppointmentFields {
		bad := bad
		cases = append(cases, validationCase{name: bad.name, field: bad.field, run: func(h *commands.Handlers) error {
			f := bad.fields
			_, err := h.UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1",
				Title: f.title, Description: f.description, Location: f.location, Privacy: f.privacy, Start: f.start, End: f.end})
			return err
		}})
	}
	// A new start alone must still come before the stored end.
	cases = append(cases, validationCase{name: "new start after the stored end", field: "end", run: func(h *commands.Handlers) error {
		_, err := h.UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Start: ptr(apptTo.Add(time.Hour))})
		return err
	}})
	runValidationCases(t, cases)
}

// TestAppointmentAccess covers the non-validation refusals of update and
// delete, which share them.
func TestAppointmentAccess(t *testing.T) {
	ctx := context.Background()
	commandsUnderTest := []struct {
		name string
		run  func(h *commands.Handlers, actor, id string, ifMatch int64) error
	}{
		{name: "update", run: func(h *commands.Handlers, actor, id string, ifMatch int64) error {
			_, err := h.UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: actor, AppointmentID: id, Title: ptr("New"), IfMatch: ifMatchOf(ifMatch)})
			return err
		}},
		{name: "delete", run: func(h *commands.Handlers, actor, id string, ifMatch int64) error {
			_, err := h.DeleteAppointment(ctx, commands.DeleteAppointment{ActorID: actor, AppointmentID: id, IfMatch: ifMatchOf(ifMatch)})
			return err
		}},
	}
	cases := []struct {
		name    string
		actor   string
		id      string
		ifMatch int64
		code    string
	}{
		{name: "appointment that does not exist", actor: "ana", id: "nope", code: agenda.ENOTFOUND},
		{name: "empty appointment id", actor: "ana", id: "", code: agenda.ENOTFOUND},
		{name: "someone who cannot see it", actor: "eve", id: "a1", code: agenda.ENOTFOUND},
		{name: "a participant who does not own it", actor: "bob", id: "a1", code: agenda.EFORBIDDEN},
		{name: "a stale If-Match", actor: "ana", id: "a1", ifMatch: 4, code: agenda.EPRECONDITIONFAILED},
		{name: "a matching If-Match", actor: "ana", id: "a1", ifMatch: 5, code: ""},
	}
	for _, cmd := range commandsUnderTest {
		for _, tc := range cases {
			t.Run(cmd.name+" by "+tc.name, func(t *testing.T) {
				log := &fakeLog{}
				h := newHandlers(log, world(t))
				err := cmd.run(h, tc.actor, tc.id, tc.ifMatch)
				if tc.code == "" {
					if err != nil {
						t.Fatalf("error = %v, want success", err)
					}
					return
				}
				wantCode(t, err, tc.code, "")
				if n := len(log.proposed()); n != 0 {
					t.Errorf("proposed %d batches, want none", n)
				}
			})
		}
	}
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// A name stored before the bidirectional rule is not checked again where a
// change keeps it: an old appointment can still be moved, an old group
// described (a review found both refused over the name they kept). A name
// given anew is checked.
func TestNamesKeptAsStoredAreNotCheckedAgain(t *testing.T) {
	ctx := context.Background()
	old := "Old\u202e"
	later, laterEnd := apptFrom.Add(24*time.Hour), apptTo.Add(24*time.Hour)

	r := world(t)
	a := r.appointments["a1"]
	a.Title, a.Location, a.Description = old, old, "Old\u009b"
	r.appointments["a1"] = a
	if _, err := newHandlers(&fakeLog{}, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Start: &later, End: &laterEnd}); err != nil {
		t.Errorf("moving an appointment whose stored title has a bidi control: %v", err)
	}
	_, err := newHandlers(&fakeLog{}, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Title: ptr("New\u202e")})
	wantCode(t, err, agenda.EINVALID, "title")

	// So are times: an appointment shorter than a minute, stored before
	// the rule, may be renamed, not moved.
	short := r.appointments["a1"]
	short.Title, short.End = "Short", short.Start.Add(time.Second)
	r.appointments["a1"] = short
	if _, err := newHandlers(&fakeLog{}, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Title: ptr("Still short")}); err != nil {
		t.Errorf("renaming an appointment stored shorter than a minute: %v", err)
	}
	secondLater := later.Add(time.Second)
	_, err = newHandlers(&fakeLog{}, r).UpdateAppointment(ctx, commands.UpdateAppointment{ActorID: "ana", AppointmentID: "a1", Start: &later, End: &secondLater})
	wantCode(t, err, agenda.EINVALID, "end")

	g := groupWorld(t)
	grp := g.groups["f"]
	grp.Name = old
	g.groups["f"] = grp
	if _, err := newHandlers(&fakeLog{}, g).UpdateGroup(ctx, commands.UpdateGroup{ActorID: "ana", GroupID: "f", Description: ptr("Monthly")}); err != nil {
		t.Errorf("describing a group whose stored name has a bidi control: %v", err)
	}
	_, err = newHandlers(&fakeLog{}, g).UpdateGroup(ctx, commands.UpdateGroup{ActorID: "ana", GroupID: "f", Name: ptr("Renamed\u2066")})
	wantCode(t, err, agenda.EINVALID, "name")

	// A display name and an email stored before the rules that refuse
	// them may be sent back as they are (the web UI sends both with every
	// change of either), not set anew.
	u := world(t)
	ana := u.users["ana"]
	ana.DisplayName, ana.Email = "\u034f", "\u202eana@example.com"
	u.users["ana"] = ana
	if _, err := newHandlers(&fakeLog{}, u).ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana",
		DisplayName: ptr("\u034f"), Email: ptr("\u202eana@example.com")}); err != nil {
		t.Errorf("sending back a display name and an email as stored: %v", err)
	}
	_, err = newHandlers(&fakeLog{}, u).ChangeProfile(ctx, commands.ChangeProfile{UserID: "ana", Email: ptr("\u202eana@example.org")})
	wantCode(t, err, agenda.EINVALID, "email")
}
