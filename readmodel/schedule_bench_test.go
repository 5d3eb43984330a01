package readmodel_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkSchedule measures the read a command makes before booking time:
// the owner's agenda version and the entries clashing with a new slot.
func BenchmarkSchedule(b *testing.B) {
	db, _ := mustOpenDB(b)
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var bs []booking
	for i := 0; i < 100; i++ {
		bs = append(bs, booking{id: fmt.Sprintf("a%d", i), owner: "u1", start: at.Add(time.Duration(i) * time.Hour), end: at.Add(time.Duration(i)*time.Hour + 30*time.Minute)})
	}
	book(b, db, bs...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := at.Add(time.Duration(i%200) * time.Hour)
		if _, err := db.Schedule(ctx, "u1", st, st.Add(15*time.Minute), ""); err != nil {
			b.Fatal(err)
		}
	}
}
