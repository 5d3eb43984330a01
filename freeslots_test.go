package agenda_test

import (
	"testing"
	"time"

	"github.com/agendahq/agenda"
)

func TestFreeSlots(t *testing.T) {
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	h := func(n float64) time.Time { return day.Add(time.Duration(n * float64(time.Hour))) }
	iv := func(a, b float64) agenda.Interval { return agenda.Interval{Start: h(a), End: h(b)} }
	from, to := h(8), h(18) // the window of every case

	tests := []struct {
		name    string
		busy    []agenda.Interval
		atLeast time.Duration
		want    []agenda.Interval
	}{
		{name: "nil busy: the whole window", busy: nil, atLeast: time.Hour,
			want: []agenda.Interval{iv(8, 18)}},
		{name: "empty busy: the whole window", busy: []agenda.Interval{}, atLeast: time.Hour,
			want: []agenda.Interval{iv(8, 18)}},
		{name: "one busy interval in the middle", busy: []agenda.Interval{iv(10, 11)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 10), iv(11, 18)}},
		{name: "unsorted busy", busy: []agenda.Interval{iv(15, 16), iv(9, 10), iv(12, 13)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 9), iv(10, 12), iv(13, 15), iv(16, 18)}},
		{name: "overlapping busy merge", busy: []agenda.Interval{iv(10, 12), iv(11, 13), iv(12.5, 14)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 10), iv(14, 18)}},
		{name: "overlapping busy, unsorted", busy: []agenda.Interval{iv(12.5, 14), iv(10, 12), iv(11, 13)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 10), iv(14, 18)}},
		{name: "nested busy: the inner one changes nothing", busy: []agenda.Interval{iv(10, 15), iv(11, 12)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 10), iv(15, 18)}},
		{name: "nested busy listed inner first", busy: []agenda.Interval{iv(11, 12), iv(10, 15)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 10), iv(15, 18)}},
		{name: "identical busy intervals", busy: []agenda.Interval{iv(10, 11), iv(10, 11)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 10), iv(11, 18)}},
		{name: "touching busy leave no gap", busy: []agenda.Interval{iv(10, 11), iv(11, 12)}, atLeast: 0,
			want: []agenda.Interval{iv(8, 10), iv(12, 18)}},
		{name: "touching busy, unsorted", busy: []agenda.Interval{iv(11, 12), iv(10, 11)}, atLeast: 0,
			want: []agenda.Interval{iv(8, 10), iv(12, 18)}},
		{name: "busy touching from", busy: []agenda.Interval{iv(6, 8)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 18)}},
		{name: "busy touching to", busy: []agenda.Interval{iv(18, 20)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 18)}},
		{name: "busy entirely before and after the window", busy: []agenda.Interval{iv(1, 2), iv(20, 22), iv(5, 7.5)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 18)}},
		{name: "busy straddling from", busy: []agenda.Interval{iv(7, 9)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(9, 18)}},
		{name: "busy straddling to", busy: []agenda.Interval{iv(17, 19)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 17)}},
		{name: "busy starting at from", busy: []agenda.Interval{iv(8, 9)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(9, 18)}},
		{name: "busy ending at to", busy: []agenda.Interval{iv(17, 18)}, atLeast: time.Minute,
			want: []agenda.Interval{iv(8, 17)}},
		{name: "busy covering the window exactly", busy: []agenda.Interval{iv(8, 18)}, atLeast: 0,
			want: []agenda.Interval{}},
		{name: "busy covering more than the window", busy: []agenda.Interval{iv(0, 24)}, atLeast: 0,
			want: []agenda.Interval{}},
		{name: "busy pieces covering the window", busy: []agenda.Interval{iv(12, 18), iv(7, 12)}, atLeast: 0,
			want: []agenda.Interval{}},
		{name: "covered, then more busy after to", busy: []agenda.Interval{iv(7, 19), iv(19, 20)}, atLeast: 0,
			want: []agenda.Interval{}},
		{name: "gap exactly the duration is kept", busy: []agenda.Interval{iv(9, 10), iv(11, 12)}, atLeast: time.Hour,
			want: []agenda.Interval{iv(8, 9), iv(10, 11), iv(12, 18)}},
		{name: "gap a nanosecond short is dropped", busy: []agenda.Interval{iv(9, 10), {Start: h(11).Add(-time.Nanosecond), End: h(12)}},
			atLeast: time.Hour, want: []agenda.Interval{iv(8, 9), iv(12, 18)}},
		{name: "duration filters short gaps only", busy: []agenda.Interval{iv(8.5, 10), iv(10.25, 16)}, atLeast: 30 * time.Minute,
			want: []agenda.Interval{iv(8, 8.5), iv(16, 18)}},
		{name: "duration longer than the window", busy: nil, atLeast: 11 * time.Hour,
			want: []agenda.Interval{}},
		{name: "duration equal to the window", busy: nil, atLeast: 10 * time.Hour,
			want: []agenda.Interval{iv(8, 18)}},
		{name: "zero duration keeps every non-empty gap", busy: []agenda.Interval{iv(9, 10), {Start: h(10).Add(time.Nanosecond), End: h(18)}},
			atLeast: 0, want: []agenda.Interval{iv(8, 9), {Start: h(10), End: h(10).Add(time.Nanosecond)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := append([]agenda.Interval(nil), tc.busy...)
			got := agenda.FreeSlots(tc.busy, from, to, tc.atLeast)
			if got == nil {
				t.Errorf("FreeSlots returned nil, want an empty, non-nil slice (it is encoded as JSON)")
			}
			if !equalIntervals(got, tc.want) {
				t.Errorf("FreeSlots(%v, %s, %s, %s)\n got  %v\n want %v", tc.busy, from, to, tc.atLeast, got, tc.want)
			}
			if !equalIntervals(tc.busy, input) {
				t.Errorf("FreeSlots reordered its input: %v, was %v", tc.busy, input)
			}
		})
	}
}

func equalIntervals(a, b []agenda.Interval) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Start.Equal(b[i].Start) || !a[i].End.Equal(b[i].End) {
			return false
		}
	}
	return true
}
