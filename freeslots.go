package agenda

import (
	"slices"
	"time"
)

// FreeSlots returns the intervals of [from, to) that none of busy covers
// and that last at least atLeast, in order. busy may be unsorted and
// overlapping; intervals touching at an instant leave no gap between them.
func FreeSlots(busy []Interval, from, to time.Time, atLeast time.Duration) []Interval {
	sorted := slices.Clone(busy)
	slices.SortFunc(sorted, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	free := []Interval{}
	cursor := from
	emit := func(end time.Time) {
		if end.Sub(cursor) >= atLeast && end.After(cursor) {
			free = append(free, Interval{Start: cursor, End: end})
		}
	}
	for _, b := range sorted {
		if !b.End.After(cursor) {
			continue
		}
		if !b.Start.Before(to) {
			break
		}
		if b.Start.After(cursor) {
			emit(b.Start)
		}
		cursor = b.End
		if !cursor.Before(to) {
			return free
		}
	}
	emit(to)
	return free
}
