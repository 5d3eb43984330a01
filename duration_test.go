package agenda_test

import (
	"testing"
	"time"

	"github.com/agendahq/agenda"
)

func TestSpanWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		31 * 24 * time.Hour:     "31 days",
		24 * time.Hour:          "1 day",
		36 * time.Hour:          "36 hours",
		time.Hour:               "1 hour",
		90 * time.Minute:        "90 minutes",
		1500 * time.Millisecond: "1.5s",
	} {
		if got := agenda.SpanWords(d); got != want {
			t.Errorf("SpanWords(%v) = %q, want %q", d, got, want)
		}
	}
}
