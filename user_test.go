package agenda

import "testing"

// A typed username folds to the one it stands for: ASCII capitals only, so
// that no look-alike reaches a username (Go's strings.ToLower turns the
// Kelvin sign into k and a dotted capital I into i).
func TestFoldUsername(t *testing.T) {
	for in, want := range map[string]string{
		"ana": "ana", "Ana": "ana", "A_B.C-9": "a_b.c-9",
		"\u212Aim": "\u212Aim", "k\u0130m": "k\u0130m", "ÅSA": "Åsa", "": "",
	} {
		if got := FoldUsername(in); got != want {
			t.Errorf("FoldUsername(%q) = %q, want %q", in, got, want)
		}
	}
}
