package agenda_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps the layering of STYLE.md honest: events and the
// root package are leaves; http never reaches SQL; nothing but cmd/ imports
// everything.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/agendahq/agenda"
	deps := func(pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", "-test=false", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	forbidden := map[string][]string{
		"":             {mod + "/"},
		"/events":      {mod + "/"},
		"/http":        {"database/sql", "github.com/mattn/go-sqlite3", mod + "/consensus", mod + "/eventstore", mod + "/projections", mod + "/internal/sqlite", mod + "/cluster"},
		"/commands":    {"database/sql", mod + "/consensus", mod + "/eventstore", mod + "/http", mod + "/projections"},
		"/readmodel":   {mod + "/commands", mod + "/consensus", mod + "/http", mod + "/projections", mod + "/eventstore"},
		"/eventstore":  {mod + "/commands", mod + "/consensus", mod + "/http", mod + "/projections", mod + "/readmodel"},
		"/consensus":   {mod + "/commands", mod + "/http", mod + "/projections", mod + "/readmodel"},
		"/projections": {mod + "/commands", mod + "/consensus", mod + "/http", mod + "/cluster"},
		// The cluster agent moves batches and addresses between nodes (over
		// consensus, which owns the event store); it knows nothing of
		// commands, HTTP routes or read models.
		"/cluster": {mod + "/commands", mod + "/http", mod + "/projections", mod + "/readmodel"},
	}
	for pkg, bad := range forbidden {
		for _, dep := range deps(pkg) {
			if dep == mod+pkg {
				continue
			}
			for _, b := range bad {
				if dep == b || (strings.HasSuffix(b, "/") && strings.HasPrefix(dep, b)) {
					t.Errorf("%s imports %s", mod+pkg, dep)
				}
			}
		}
	}
	// The leaves use the standard library only.
	for _, pkg := range []string{"", "/events"} {
		for _, dep := range deps(pkg) {
			if strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") && dep != mod+pkg {
				t.Errorf("leaf %s imports non-standard %s", mod+pkg, dep)
			}
		}
	}
}
