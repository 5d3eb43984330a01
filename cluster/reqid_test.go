package cluster

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agendahq/agenda/internal/reqid"
)

// A node-to-node request made on behalf of a client request (a forwarded
// write) carries the client's request ID, so the leader logs it too.
func TestCallCarriesRequestID(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(reqid.Header)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	a := NewAgent(Config{Self: Member{ID: "a"}, Secret: testSecret}, &fakeRaft{id: "a"})
	ctx := reqid.With(context.Background(), "req-forwarded-7")
	var out struct{}
	if err := a.call(ctx, "b", strings.TrimPrefix(srv.URL, "http://"), "/internal/propose", map[string]int{}, &out); err != nil {
		t.Fatalf("call: %v", err)
	}
	if id := <-got; id != "req-forwarded-7" {
		t.Errorf("forwarded request carried X-Request-ID %q, want req-forwarded-7", id)
	}
}
