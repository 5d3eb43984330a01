// Package reqid carries a request's ID through a context, onto every log
// line written with that context, and onto node-to-node requests, so one
// client request can be followed across the node that took it and the
// leader it was forwarded to.
package reqid

import (
	"context"
	"log/slog"
)

// Header is the HTTP header that carries a request ID, from clients and
// between nodes.
const Header = "X-Request-ID"

type key struct{}

// With returns a context carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the request ID in ctx ("" if none).
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Handler wraps h so that every record logged with a context carrying a
// request ID (logger.InfoContext(ctx, …)) has a request_id attribute.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
