package commands

import (
	"context"
)

type ctxKey int

const correlationKey ctxKey = iota

// WithCorrelationID returns a context whose commands record id as the
// correlation ID of their events.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

func correlationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey).(string)
	return id
}
