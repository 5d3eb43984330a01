package readmodel

// Statements whose query plans TestQueryPlans holds.
const (
	GroupParticipationsQuery      = groupParticipationsQuery
	InvitationsQuery              = invitationsQuery
	PendingGroupAppointmentsQuery = pendingGroupAppointmentsQuery
	UnreadNotificationsQuery      = unreadNotificationsQuery
	NotificationStateQuery        = notificationStateQuery
	MarkNotificationsReadQuery    = markNotificationsReadQuery
	PruneFeedQuery                = pruneFeedQuery
	SearchUsersQuery              = searchUsersQuery
)
