// Package projections turns committed events into the read models of package
// readmodel. A watermill Router drives one handler per projection; each
// handler is fed by an EventStoreSubscriber that pages through the event
// store from the projection's checkpoint, one batch in flight at a time, and
// each batch is applied in one read-model transaction that also moves the
// checkpoint. See DESIGN.md for why this gives ordered, exactly-once,
// resumable projections.
package projections
