package readmodel

// LiveStatusArgs are the arguments GroupParticipationsQuery ends with.
var LiveStatusArgs = liveStatusArgs

// PrefixEnd ends the range of strings starting with a prefix.
var PrefixEnd = prefixEnd

// GroupParticipationsQuery is built from agenda.LiveStatuses.
var GroupParticipationsQuery = groupParticipationsQuery

// Statements whose query plans TestQueryPlans holds.
const (
	InvitationsQuery              = invitationsQuery
	PendingGroupAppointmentsQuery = pendingGroupAppointmentsQuery
	PendingInvitationsQuery       = pendingInvitationsQuery
	UnreadNotificationsQuery      = unreadNotificationsQuery
	NotificationsQuery            = notificationsQuery
	UserFeedQuery                 = userFeedQuery
	FeedRangeQuery                = feedRangeQuery
	NotificationStateQuery        = notificationStateQuery
	MarkNotificationsReadQuery    = markNotificationsReadQuery
	PruneFeedQuery                = pruneFeedQuery
	PruneNotificationsQuery       = pruneNotificationsQuery
	SearchUsersQuery              = searchUsersQuery
)
