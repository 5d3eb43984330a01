package agenda

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestNotificationTypesListsEveryType: a type added as a constant but left
// out of NotificationTypes would go unhandled where every type must be (the
// web UI showed group_invitation_declined as "Something changed").
func TestNotificationTypesListsEveryType(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "notification.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	ast.Inspect(f, func(n ast.Node) bool {
		v, ok := n.(*ast.ValueSpec)
		if !ok || len(v.Names) != 1 || !strings.HasPrefix(v.Names[0].Name, "Notify") || len(v.Values) != 1 {
			return true
		}
		if lit, ok := v.Values[0].(*ast.BasicLit); ok {
			s, _ := strconv.Unquote(lit.Value)
			consts = append(consts, s)
		}
		return true
	})
	if len(consts) < 13 {
		t.Fatalf("found %d Notify constants, want at least 13", len(consts))
	}
	got := slices.Sorted(slices.Values(NotificationTypes))
	slices.Sort(consts)
	if !slices.Equal(got, consts) {
		t.Errorf("NotificationTypes = %v, want the constants %v", got, consts)
	}
}
