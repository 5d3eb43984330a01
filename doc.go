// Package agenda is the service's domain: the types every layer exchanges,
// the rules that decide about them, and the one error vocabulary clients
// see. It imports nothing but the standard library (arch_test.go checks
// that), so every other package may depend on it.
//
// It holds three kinds of thing:
//
//   - View types: User, Appointment, Entry (one appointment in a user's
//     agenda), Group, Member, GroupInvitation, MemberAgenda and
//     GroupAgendaEntry, Notification, FeedEntry, AuditEntry, Interval. They
//     are what the read side returns and what the HTTP layer encodes (their
//     JSON tags are the contract's field names), and what commands read to
//     decide. Defining them once here means readmodel builds them straight
//     from SQL rows, http sends them as they are, and commands fold a
//     batch's own events onto them to answer a write, with no mapping layer
//     that could drift between the three.
//   - Domain rules, each written once on the types it is about: which
//     participations block a user's time (BlockingRoles, Blocks), the rank
//     rule of hierarchical groups (Group.CanManage: who may impose
//     appointments on whom, give and change ranks, remove members), who
//     sees the details of an entry (SeesDetails, SeesEntry), free time
//     (FreeSlots), and the bounds on times, durations and query windows.
//     Commands, projections and the read model call them rather than
//     restate them. Where SQL must apply a rule itself, so that a hidden
//     title never leaves the database, readmodel takes the rule's
//     parameters from here and a table test proves the SQL and the Go rule
//     agree on every case.
//   - The error vocabulary: Error, its codes (EINVALID, ENOTFOUND, ...),
//     and ErrorCode/ErrorMessage/ErrorDetails, which find an *Error through
//     any wrapping. Package http maps the codes to statuses in one place.
//
// The events, their streams and the write path live elsewhere: events
// (what happened), commands (deciding), consensus and cluster (agreeing on
// the order), projections and readmodel (the views); see the README's
// "Architecture".
package agenda
