package sqlite

import (
	"slices"
	"testing"
)

func TestRunsArePowersOfTwoThatAddUp(t *testing.T) {
	for _, tt := range []struct {
		n, limit int
		want     []int
	}{
		{0, 256, nil},
		{1, 256, []int{1}},
		{37, 256, []int{32, 4, 1}},
		{256, 256, []int{256}},
		{600, 256, []int{256, 256, 64, 16, 8}},
	} {
		if got := Runs(tt.n, tt.limit); !slices.Equal(got, tt.want) {
			t.Errorf("Runs(%d, %d) = %v, want %v", tt.n, tt.limit, got, tt.want)
		}
	}
	// Every count up to a limit uses at most log2(limit)+1 statement texts.
	texts := map[int]bool{}
	for n := 1; n <= 1000; n++ {
		sum := 0
		for _, r := range Runs(n, 256) {
			texts[r] = true
			sum += r
		}
		if sum != n {
			t.Fatalf("Runs(%d) adds up to %d", n, sum)
		}
	}
	if len(texts) != 9 {
		t.Errorf("runs of 1..1000 rows use %d lengths, want 9", len(texts))
	}
}

func TestInPadsToAPowerOfTwoWithTheSameSet(t *testing.T) {
	for _, tt := range []struct {
		args []any
		want string
		pad  []any
	}{
		{[]any{"a"}, "(?)", []any{"a"}},
		{[]any{"a", "b", "c"}, "(?, ?, ?, ?)", []any{"a", "b", "c", "c"}},
		{[]any{"a", "b", "c", "d"}, "(?, ?, ?, ?)", []any{"a", "b", "c", "d"}},
	} {
		got, args := In(tt.args)
		if got != tt.want || !slices.Equal(args, tt.pad) {
			t.Errorf("In(%v) = %q %v, want %q %v", tt.args, got, args, tt.want, tt.pad)
		}
	}
}
