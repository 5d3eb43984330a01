// Package readmodel holds the SQLite read models that queries are served
// from: users, appointments and their participants, agenda entries, groups,
// their members and invitations, notifications and each user's feed.
// Projectors (package
// projections) are its only writers, through Tx, and each records its
// checkpoint in the same transaction as its changes; everything here can be
// thrown away and rebuilt from the event store.
//
// Every row carries version (a per-record counter starting at 1, the version
// of the stream that last changed it) and origin_node (the node that accepted
// the command that last changed it).
package readmodel
