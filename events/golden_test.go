package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
)

// Golden fixtures pin the JSON encoding of every event type at every schema
// version this build can decode. A replica replays the log written by older
// builds, so a fixture that stops decoding, or decodes to something that
// encodes differently, means the log format changed without a schema bump.
//
// Regenerate with
//
//	go test ./events -run Golden -update          # writes missing fixtures only
//	go test ./events -run Golden -update -force   # also overwrites existing ones
//
// -update alone never touches an existing file: the fixture of a past schema
// version records what older builds wrote and must not follow the code.
var (
	update = flag.Bool("update", false, "write missing golden event fixtures in testdata/")
	force  = flag.Bool("force", false, "with -update, overwrite existing golden fixtures too")
)

// goldenSample is the envelope written to the fixture of a type's current
// schema version. Every envelope field gets a realistic non-zero value.
type goldenSample struct {
	id       string
	stream   string
	version  int64
	position int64
	time     time.Time
	actor    string
	event    events.Event
}

const (
	goldenUserID    = "0f8fad5b-d9cb-469f-a165-70867728950e"
	goldenInviteeID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	goldenApptID    = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	goldenGroupID   = "a3bb189e-8bf9-3888-9912-ace4e6543002"
	goldenUsername  = "zoe.martin"
)

// goldenSamples lists one sample per event type, keyed by type name. Adding
// an event type means adding a sample here and running -update.
var goldenSamples = map[string]goldenSample{
	"user.registered": {
		id: "01JQ3Z9X4V8K2M5N7P1R3T5W7Y", stream: events.UserStream(goldenUserID), version: 1, position: 41,
		time: time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC), actor: goldenUserID,
		event: events.UserRegistered{
			UserID:       goldenUserID,
			Username:     goldenUsername,
			DisplayName:  "Zoë Martin",
			Email:        "zoe.martin@example.com",
			PasswordHash: "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		},
	},
	"username.claimed": {
		id: "01JQ3Z9X4V8K2M5N7P1R3T5W7Z", stream: events.UsernameStream(goldenUsername), version: 1, position: 42,
		time: time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC), actor: goldenUserID,
		event: events.UsernameClaimed{
			Username: goldenUsername,
			UserID:   goldenUserID,
		},
	},
	"user.profile_changed": {
		id: "01JQ4B2C6D8E0F2G4H6J8K0M2N", stream: events.UserStream(goldenUserID), version: 2, position: 57,
		time: time.Date(2025, 3, 15, 16, 2, 11, 0, time.UTC), actor: goldenUserID,
		event: events.UserProfileChanged{
			UserID:      goldenUserID,
			DisplayName: "Zoë Martin-Okafor",
			Email:       "zoe@martin-okafor.example",
		},
	},
	"user.password_changed": {
		id: "01JQ4B7Q1R3S5T7V9W1X3Y5Z7A", stream: events.UserStream(goldenUserID), version: 3, position: 63,
		time: time.Date(2025, 3, 15, 16, 7, 40, 250_000_000, time.UTC), actor: goldenUserID,
		event: events.UserPasswordChanged{
			UserID:       goldenUserID,
			PasswordHash: "$2a$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW",
		},
	},
	"appointment.created": {
		id: "01JQ5C0A2B4C6D8E0F2G4H6J8K", stream: events.AppointmentStream(goldenApptID), version: 1, position: 88,
		time: time.Date(2025, 3, 17, 8, 45, 0, 123_456_789, time.UTC), actor: goldenUserID,
		event: events.AppointmentCreated{
			AppointmentID: goldenApptID,
			OwnerID:       goldenUserID,
			GroupID:       goldenGroupID,
			Title:         "Quarterly planning",
			Description:   "Agree on Q2 goals <draft attached> & assign owners.",
			Location:      "Room 4.12, Lyon office",
			Start:         time.Date(2025, 3, 20, 13, 0, 0, 0, time.UTC),
			End:           time.Date(2025, 3, 20, 14, 30, 0, 0, time.UTC),
			Privacy:       "full",
			Status:        "confirmed",
			Participants:  []events.Invitee{{UserID: goldenInviteeID, Status: "pending"}},
		},
	},
	"appointment.updated": {
		id: "01JQ5D1B3C5D7E9F1G3H5J7K9M", stream: events.AppointmentStream(goldenApptID), version: 2, position: 95,
		time: time.Date(2025, 3, 18, 10, 12, 30, 0, time.UTC), actor: goldenUserID,
		event: events.AppointmentUpdated{
			AppointmentID: goldenApptID,
			Title:         "Quarterly planning (moved)",
			Description:   "Agree on Q2 goals & assign owners.\nBring the budget sheet.",
			Location:      "Room 2.03, Lyon office",
			Start:         time.Date(2025, 3, 21, 9, 0, 0, 0, time.UTC),
			End:           time.Date(2025, 3, 21, 10, 30, 0, 0, time.UTC),
			Privacy:       "freebusy",
		},
	},
	"appointment.deleted": {
		id: "01JQ5E2C4D6E8F0G2H4J6K8M0N", stream: events.AppointmentStream(goldenApptID), version: 3, position: 104,
		time: time.Date(2025, 3, 19, 17, 55, 3, 0, time.UTC), actor: goldenUserID,
		event: events.AppointmentDeleted{
			AppointmentID: goldenApptID,
		},
	},
	"agenda.entry_added": {
		id: "01JQ5C0A2B4C6D8E0F2G4H6J8M", stream: events.ScheduleStream(goldenInviteeID), version: 12, position: 89,
		time: time.Date(2025, 3, 17, 8, 45, 0, 123_456_789, time.UTC), actor: goldenUserID,
		event: events.AgendaEntryAdded{
			UserID:        goldenInviteeID,
			AppointmentID: goldenApptID,
			Start:         time.Date(2025, 3, 20, 13, 0, 0, 0, time.UTC),
			End:           time.Date(2025, 3, 20, 14, 30, 0, 0, time.UTC),
			Role:          "pending",
		},
	},
	"agenda.entry_rescheduled": {
		id: "01JQ5D1B3C5D7E9F1G3H5J7K9N", stream: events.ScheduleStream(goldenInviteeID), version: 13, position: 96,
		time: time.Date(2025, 3, 18, 10, 12, 30, 0, time.UTC), actor: goldenUserID,
		event: events.AgendaEntryRescheduled{
			UserID:        goldenInviteeID,
			AppointmentID: goldenApptID,
			Start:         time.Date(2025, 3, 21, 9, 0, 0, 0, time.UTC),
			End:           time.Date(2025, 3, 21, 10, 30, 0, 0, time.UTC),
		},
	},
	"agenda.entry_removed": {
		id: "01JQ5E2C4D6E8F0G2H4J6K8M0P", stream: events.ScheduleStream(goldenInviteeID), version: 14, position: 105,
		time: time.Date(2025, 3, 19, 17, 55, 3, 0, time.UTC), actor: goldenUserID,
		event: events.AgendaEntryRemoved{
			UserID:        goldenInviteeID,
			AppointmentID: goldenApptID,
		},
	},
	"agenda.entry_role_changed": {
		id: "01JQ6A1B2C3D4E5F6G7H8J9K0M", stream: events.ScheduleStream(goldenInviteeID), version: 15, position: 131,
		time: time.Date(2025, 3, 22, 11, 4, 9, 0, time.UTC), actor: goldenInviteeID,
		event: events.AgendaEntryRoleChanged{UserID: goldenInviteeID, AppointmentID: goldenApptID, Role: "accepted"},
	},
	"appointment.participant_added": {
		id: "01JQ6A1B2C3D4E5F6G7H8J9K0N", stream: events.AppointmentStream(goldenApptID), version: 2, position: 90,
		time: time.Date(2025, 3, 17, 8, 45, 0, 123_456_789, time.UTC), actor: goldenUserID,
		event: events.AppointmentParticipantAdded{AppointmentID: goldenApptID, UserID: goldenInviteeID, Status: "pending"},
	},
	"appointment.accepted": {
		id: "01JQ6A1B2C3D4E5F6G7H8J9K0P", stream: events.AppointmentStream(goldenApptID), version: 3, position: 130,
		time: time.Date(2025, 3, 22, 11, 4, 9, 0, time.UTC), actor: goldenInviteeID,
		event: events.AppointmentAccepted{AppointmentID: goldenApptID, UserID: goldenInviteeID},
	},
	"appointment.declined": {
		id: "01JQ6A1B2C3D4E5F6G7H8J9K0Q", stream: events.AppointmentStream(goldenApptID), version: 4, position: 140,
		time: time.Date(2025, 3, 23, 7, 30, 0, 0, time.UTC), actor: goldenInviteeID,
		event: events.AppointmentDeclined{AppointmentID: goldenApptID, UserID: goldenInviteeID},
	},
	"appointment.confirmed": {
		id: "01JQ6A1B2C3D4E5F6G7H8J9K0R", stream: events.AppointmentStream(goldenApptID), version: 4, position: 132,
		time: time.Date(2025, 3, 22, 11, 4, 9, 0, time.UTC), actor: goldenInviteeID,
		event: events.AppointmentConfirmed{AppointmentID: goldenApptID},
	},
	"appointment.cancelled": {
		id: "01JQ6A1B2C3D4E5F6G7H8J9K0S", stream: events.AppointmentStream(goldenApptID), version: 5, position: 141,
		time: time.Date(2025, 3, 23, 7, 30, 0, 0, time.UTC), actor: goldenInviteeID,
		event: events.AppointmentCancelled{AppointmentID: goldenApptID, Reason: "declined"},
	},
	"group.created": {
		id: "01JQ6B1B2C3D4E5F6G7H8J9K0A", stream: events.GroupStream(goldenGroupID), version: 1, position: 70,
		time: time.Date(2025, 3, 16, 9, 0, 0, 0, time.UTC), actor: goldenUserID,
		event: events.GroupCreated{GroupID: goldenGroupID, Name: "Dirección de Operaciones", Description: "Weekly ops & <staff> sync",
			Hierarchical: true, CreatorID: goldenUserID},
	},
	"group.updated": {
		id: "01JQ6B1B2C3D4E5F6G7H8J9K0B", stream: events.GroupStream(goldenGroupID), version: 4, position: 77,
		time: time.Date(2025, 3, 16, 10, 0, 0, 0, time.UTC), actor: goldenUserID,
		event: events.GroupUpdated{GroupID: goldenGroupID, Name: "Operaciones", Description: ""},
	},
	"group.deleted": {
		id: "01JQ6B1B2C3D4E5F6G7H8J9K0C", stream: events.GroupStream(goldenGroupID), version: 9, position: 300,
		time: time.Date(2025, 4, 1, 10, 0, 0, 0, time.UTC), actor: goldenUserID,
		event: events.GroupDeleted{GroupID: goldenGroupID},
	},
	"group.member_added": {
		id: "01JQ6B1B2C3D4E5F6G7H8J9K0D", stream: events.GroupStream(goldenGroupID), version: 2, position: 71,
		time: time.Date(2025, 3, 16, 9, 0, 0, 0, time.UTC), actor: goldenUserID,
		event: events.GroupMemberAdded{GroupID: goldenGroupID, UserID: goldenInviteeID, Rank: 40},
	},
	"group.member_rank_changed": {
		id: "01JQ6B1B2C3D4E5F6G7H8J9K0E", stream: events.GroupStream(goldenGroupID), version: 5, position: 80,
		time: time.Date(2025, 3, 16, 11, 0, 0, 0, time.UTC), actor: goldenUserID,
		event: events.GroupMemberRankChanged{GroupID: goldenGroupID, UserID: goldenInviteeID, Rank: 60},
	},
	"group.member_removed": {
		id: "01JQ6B1B2C3D4E5F6G7H8J9K0F", stream: events.GroupStream(goldenGroupID), version: 6, position: 85,
		time: time.Date(2025, 3, 16, 12, 0, 0, 0, time.UTC), actor: goldenInviteeID,
		event: events.GroupMemberRemoved{GroupID: goldenGroupID, UserID: goldenInviteeID, Left: true},
	},
	"group.creator_changed": {
		id: "01JQ6B1B2C3D4E5F6G7H8J9K0G", stream: events.GroupStream(goldenGroupID), version: 7, position: 86,
		time: time.Date(2025, 3, 16, 12, 30, 0, 0, time.UTC), actor: goldenUserID,
		event: events.GroupCreatorChanged{GroupID: goldenGroupID, UserID: goldenInviteeID},
	},
	"group.member_invited": {
		id: "01JQ7A1B2C3D4E5F6G7H8J9K0A", stream: events.GroupStream(goldenGroupID), version: 10, position: 310,
		time: time.Date(2025, 4, 2, 9, 15, 0, 0, time.UTC), actor: goldenUserID,
		event: events.GroupMemberInvited{GroupID: goldenGroupID, UserID: goldenInviteeID, Rank: 40, InvitedBy: goldenUserID},
	},
	"group.invitation_accepted": {
		id: "01JQ7A1B2C3D4E5F6G7H8J9K0B", stream: events.GroupStream(goldenGroupID), version: 11, position: 322,
		time: time.Date(2025, 4, 2, 14, 40, 12, 0, time.UTC), actor: goldenInviteeID,
		event: events.GroupInvitationAccepted{GroupID: goldenGroupID, UserID: goldenInviteeID},
	},
	"group.invitation_declined": {
		id: "01JQ7A1B2C3D4E5F6G7H8J9K0C", stream: events.GroupStream(goldenGroupID), version: 12, position: 330,
		time: time.Date(2025, 4, 3, 8, 1, 2, 0, time.UTC), actor: goldenInviteeID,
		event: events.GroupInvitationDeclined{GroupID: goldenGroupID, UserID: goldenInviteeID},
	},
	"appointment.participant_removed": {
		id: "01JQ7A1B2C3D4E5F6G7H8J9K0D", stream: events.AppointmentStream(goldenApptID), version: 6, position: 340,
		time: time.Date(2025, 4, 3, 9, 0, 0, 0, time.UTC), actor: goldenUserID,
		event: events.AppointmentParticipantRemoved{AppointmentID: goldenApptID, UserID: goldenInviteeID, Reason: "removed"},
	},
	"user.token_revoked": {
		id: "01JQ7A1B2C3D4E5F6G7H8J9K0E", stream: events.TokenStream(goldenUserID), version: 1, position: 350,
		time: time.Date(2025, 4, 3, 18, 22, 5, 0, time.UTC), actor: goldenUserID,
		event: events.UserTokenRevoked{UserID: goldenUserID, TokenID: "0195f2a4-6b1e-7c3d-9e8f-a1b2c3d4e5f6",
			ExpiresAt: time.Date(2025, 4, 4, 18, 20, 0, 0, time.UTC)},
	},
	"notification.read": {
		id: "01JQ6C1B2C3D4E5F6G7H8J9K0A", stream: events.NotificationStream(goldenInviteeID), version: 1, position: 133,
		time: time.Date(2025, 3, 22, 11, 5, 0, 0, time.UTC), actor: goldenInviteeID,
		event: events.NotificationRead{UserID: goldenInviteeID, NotificationID: "5df6a2f1-7b0c-5a53-9b0e-3c1c1f0e9a77"},
	},
	"notification.all_read": {
		id: "01JQ6C1B2C3D4E5F6G7H8J9K0B", stream: events.NotificationStream(goldenInviteeID), version: 2, position: 150,
		time: time.Date(2025, 3, 23, 8, 0, 0, 0, time.UTC), actor: goldenInviteeID,
		event: events.NotificationsAllRead{UserID: goldenInviteeID, UpToPosition: 149},
	},
}

// envelope builds the fixture envelope of s with the public constructor, so
// the fixture carries the schema version New stamps today.
func (s goldenSample) envelope(tb testing.TB) events.Envelope {
	tb.Helper()
	env, err := events.New(s.id, s.stream, s.version, s.event, events.Meta{
		Time:          s.time,
		OriginNode:    "node-2",
		Actor:         s.actor,
		CorrelationID: "req-" + strings.ToLower(s.id[len(s.id)-8:]),
	})
	if err != nil {
		tb.Fatalf("New(%s): %v", s.event.EventType(), err)
	}
	// Position is assigned at commit; give it a plausible value.
	env.Position = s.position
	return env
}

func fixturePath(typ string, schemaVersion int) string {
	return filepath.Join("testdata", fmt.Sprintf("%s.v%d.json", typ, schemaVersion))
}

// parseFixtureName is the inverse of fixturePath's base name.
func parseFixtureName(name string) (typ string, schemaVersion int, ok bool) {
	base, found := strings.CutSuffix(name, ".json")
	if !found {
		return "", 0, false
	}
	i := strings.LastIndex(base, ".v")
	if i <= 0 {
		return "", 0, false
	}
	v, err := strconv.Atoi(base[i+2:])
	if err != nil {
		return "", 0, false
	}
	return base[:i], v, true
}

// currentSchemaVersion is the highest registered schema version of a type,
// the one New stamps and Decode upcasts to.
func currentSchemaVersion(versions []int) int { return slices.Max(versions) }

func sortedTypes(types map[string][]int) []string {
	names := make([]string, 0, len(types))
	for name := range types {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// writeGoldenFixtures writes the fixture of each sample's current schema
// version. Existing files are kept unless -force is set.
func writeGoldenFixtures(t *testing.T, registered map[string][]int) {
	t.Helper()
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, typ := range sortedTypes(registered) {
		s, ok := goldenSamples[typ]
		if !ok {
			t.Errorf("no golden sample for registered type %q: add one to goldenSamples", typ)
			continue
		}
		env := s.envelope(t)
		path := fixturePath(typ, env.SchemaVersion)
		if _, err := os.Stat(path); err == nil && !*force {
			t.Logf("keep %s (exists; use -force to overwrite)", path)
			continue
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(env, "", "  ")
		if err != nil {
			t.Fatalf("encode %s: %v", path, err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	for typ := range goldenSamples {
		if _, ok := registered[typ]; !ok {
			t.Errorf("golden sample for unregistered type %q", typ)
		}
	}
}

func TestGoldenFixtures(t *testing.T) {
	registered := events.Types()
	if len(registered) == 0 {
		t.Fatal("events.Types() is empty")
	}
	if *update {
		writeGoldenFixtures(t, registered)
	}

	var missing []string
	for _, typ := range sortedTypes(registered) {
		for _, v := range registered[typ] {
			if _, err := os.Stat(fixturePath(typ, v)); err != nil {
				missing = append(missing, fixturePath(typ, v))
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("missing golden fixtures (run go test ./events -run Golden -update; a past schema version's fixture must be written by hand):\n\t%s",
			strings.Join(missing, "\n\t"))
	}

	for _, typ := range sortedTypes(registered) {
		current := currentSchemaVersion(registered[typ])
		for _, v := range registered[typ] {
			t.Run(fmt.Sprintf("%s.v%d", typ, v), func(t *testing.T) {
				checkGoldenFixture(t, typ, v, current)
			})
		}
	}
}

// TestGoldenFixturesRegistered fails on a fixture this build cannot decode:
// dropping a schema version's decoder would otherwise skip its fixture
// silently, and the log still holds events of that version.
func TestGoldenFixturesRegistered(t *testing.T) {
	registered := events.Types()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		typ, v, ok := parseFixtureName(e.Name())
		if !ok {
			t.Errorf("testdata/%s: name is not <type>.v<N>.json", e.Name())
			continue
		}
		if !slices.Contains(registered[typ], v) {
			t.Errorf("testdata/%s: %s schema version %d is not registered (registered: %v)", e.Name(), typ, v, registered[typ])
		}
	}
}

func checkGoldenFixture(t *testing.T, typ string, schemaVersion, current int) {
	t.Helper()
	path := fixturePath(typ, schemaVersion)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := decodeEnvelopeStrict(t, raw)

	if env.Type != typ || env.SchemaVersion != schemaVersion {
		t.Fatalf("%s holds type %q schema version %d, want %q %d", path, env.Type, env.SchemaVersion, typ, schemaVersion)
	}
	requireAllFieldsSet(t, env)
	// Fixtures are pretty-printed for reading; the log holds data compact.
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Data); err != nil {
		t.Fatalf("compact data: %v", err)
	}
	env.Data = compact.Bytes()
	if err := env.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if env.Time.Location() != time.UTC {
		t.Errorf("time %s is in %s, want UTC", env.Time, env.Time.Location())
	}

	ev, err := env.Decode()
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got := ev.EventType(); got != typ {
		t.Fatalf("Decode returned %T with EventType %q, want %q", ev, got, typ)
	}
	// The projectors' fast path must read the same event.
	fast, err := env.DecodeWith(json.Unmarshal)
	if err != nil {
		t.Fatalf("DecodeWith(json.Unmarshal): %v", err)
	}
	if !reflect.DeepEqual(fast, ev) {
		t.Fatalf("DecodeWith(json.Unmarshal) = %#v, Decode = %#v", fast, ev)
	}
	if s, ok := goldenSamples[typ]; ok {
		if got, want := reflect.TypeOf(ev), reflect.TypeOf(s.event); got != want {
			t.Fatalf("Decode returned %v, want %v", got, want)
		}
	}

	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("encode decoded %T: %v", ev, err)
	}
	if schemaVersion != current {
		// Decode upcast a past version: its data need not look like the
		// current encoding, but what it became must decode as current.
		up := events.Envelope{ID: env.ID, Type: typ, SchemaVersion: current, Data: data}
		if _, err := up.Decode(); err != nil {
			t.Fatalf("upcast v%d to v%d does not decode: %v", schemaVersion, current, err)
		}
		return
	}
	if got, want := compactJSON(t, data), compactJSON(t, env.Data); !bytes.Equal(got, want) {
		t.Fatalf("re-encoded data differs from fixture\n got: %s\nwant: %s", got, want)
	}
	whole, err := json.Marshal(env)
	if err != nil {
		t.Fatalf("encode envelope: %v", err)
	}
	if got, want := compactJSON(t, whole), compactJSON(t, raw); !bytes.Equal(got, want) {
		t.Fatalf("re-encoded envelope differs from fixture\n got: %s\nwant: %s", got, want)
	}
}

// decodeEnvelopeStrict decodes a fixture, refusing unknown envelope fields
// so a typo in a hand-written fixture cannot go unnoticed.
func decodeEnvelopeStrict(tb testing.TB, raw []byte) events.Envelope {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var env events.Envelope
	if err := dec.Decode(&env); err != nil {
		tb.Fatalf("decode envelope: %v", err)
	}
	return env
}

// requireAllFieldsSet fails if any envelope field has its zero value: a
// fixture must show every field on the wire.
func requireAllFieldsSet(tb testing.TB, env events.Envelope) {
	tb.Helper()
	v := reflect.ValueOf(env)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			tb.Errorf("envelope field %s is not set", v.Type().Field(i).Name)
		}
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		tb.Errorf("envelope data is empty")
	}
}

func compactJSON(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		tb.Fatalf("compact %q: %v", b, err)
	}
	return buf.Bytes()
}
