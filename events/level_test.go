package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/agendahq/agenda/events"
)

// levelOne is every form builds announcing no level read. It is frozen: a
// form registered since must be given a level above it (events.introduced),
// or a rolling update would write it to nodes that halt on it.
var levelOne = map[string][]int{
	"agenda.entry_added": {1}, "agenda.entry_removed": {1}, "agenda.entry_rescheduled": {1},
	"agenda.entry_role_changed": {1}, "appointment.accepted": {1}, "appointment.cancelled": {1},
	"appointment.confirmed": {1}, "appointment.created": {1}, "appointment.declined": {1},
	"appointment.deleted": {1}, "appointment.participant_added": {1}, "appointment.participant_removed": {1},
	"appointment.updated": {1}, "group.created": {1}, "group.creator_changed": {1}, "group.deleted": {1},
	"group.invitation_accepted": {1}, "group.invitation_declined": {1}, "group.member_added": {1},
	"group.member_invited": {1}, "group.member_rank_changed": {1}, "group.member_removed": {1},
	"group.updated": {1}, "notification.all_read": {1}, "notification.read": {1},
	"user.password_changed": {1}, "user.profile_changed": {1}, "user.registered": {1},
	"user.token_revoked": {1}, "username.claimed": {1},
}

func TestEveryFormHasALevel(t *testing.T) {
	for typ, versions := range events.Types() {
		for _, v := range versions {
			l := events.LevelOf(typ, v)
			if l < events.MinLevel || l > events.Level {
				t.Errorf("%s v%d: level %d, outside %d..%d", typ, v, l, events.MinLevel, events.Level)
			}
			old := false
			for _, w := range levelOne[typ] {
				old = old || w == v
			}
			if old != (l == events.MinLevel) {
				t.Errorf("%s v%d: level %d, but builds announcing no level read it: %v; a new form needs a level above %d (events.introduced)",
					typ, v, l, old, events.MinLevel)
			}
		}
	}
}

// The form of group.created that builds below level 2 read: written at
// schema version 1, and read back as written.
func TestGroupCreatedWhoseCreatorFollows(t *testing.T) {
	for _, follows := range []bool{false, true} {
		t.Run(fmt.Sprint("creator follows ", follows), func(t *testing.T) {
			e := events.GroupCreated{GroupID: goldenGroupID, Name: "Team", Hierarchical: true, CreatorID: goldenUserID,
				CreatorFollows: follows}
			env, err := events.New("evt-1", events.GroupStream(goldenGroupID), 1, e, testMeta)
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			if follows {
				want = 1
			}
			if env.SchemaVersion != want {
				t.Errorf("schema version %d, want %d", env.SchemaVersion, want)
			}
			if l := events.LevelOf(env.Type, env.SchemaVersion); l != want {
				t.Errorf("level %d, want %d", l, want)
			}
			for name, decode := range map[string]func() (events.Event, error){
				"strict": env.Decode,
				"fast":   func() (events.Event, error) { return env.DecodeWith(json.Unmarshal) },
			} {
				if got, err := decode(); err != nil || !reflect.DeepEqual(got, e) {
					t.Errorf("%s decode = %#v, %v; want %#v", name, got, err, e)
				}
			}
		})
	}
}

func TestCheckLevel(t *testing.T) {
	env := func(typ string, schema int) events.Envelope { return events.Envelope{Type: typ, SchemaVersion: schema} }
	b := events.Batch{Events: []events.Envelope{env("appointment.created", 1), env("agenda.entry_added", 1), env("group.created", 2)}}
	if err := events.CheckLevel(b, events.Level); err != nil {
		t.Errorf("at level %d: %v", events.Level, err)
	}
	err := events.CheckLevel(b, 1)
	var al *events.AboveLevelError
	if !errors.As(err, &al) || *al != (events.AboveLevelError{Level: 1, Type: "group.created", SchemaVersion: 2}) {
		t.Errorf("at level 1: %v, want group.created v2 refused", err)
	}
}
