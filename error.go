package agenda

import (
	"errors"
	"fmt"
)

// Error codes. They are the only error vocabulary clients see; the http
// package maps each to a status code in one place.
const (
	EINVALID              = "invalid"
	EMETHODNOTALLOWED     = "method_not_allowed"
	EUNAUTHORIZED         = "unauthorized"
	EFORBIDDEN            = "forbidden"
	ENOTFOUND             = "not_found"
	ECONFLICT             = "conflict"
	ESCHEDULECONFLICT     = "schedule_conflict"
	EPRECONDITIONFAILED   = "precondition_failed"
	ETOOLARGE             = "too_large"
	EUNSUPPORTEDMEDIATYPE = "unsupported_media_type"
	ERATELIMITED          = "rate_limited"
	EUNAVAILABLE          = "unavailable"
	EINTERNAL             = "internal"
)

// Error is an application error meant for the client: its Message is safe to
// show and its Details (optional) are encoded as the error's "details" object.
// Any error that is not (and does not wrap) an *Error is internal and its text
// never reaches a client.
type Error struct {
	Code    string
	Message string
	Details map[string]any
	// Position, if not 0, is a log position at least as fresh as the state
	// the error was decided on, where that was not this node's read model
	// (the leader's log refused a write): a refusal names a position no
	// lower, so that a read with it sees what refused it.
	Position int64
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("agenda error: code=%s message=%s", e.Code, e.Message)
}

// Errorf is a helper that returns an *Error with a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns a copy of e carrying details.
func (e *Error) WithDetails(details map[string]any) *Error {
	c := *e
	c.Details = details
	return &c
}

// At returns a copy of e decided on state at least as fresh as position.
func (e *Error) At(position int64) *Error {
	c := *e
	c.Position = position
	return &c
}

// ErrorPosition returns the Position of the *Error in err's chain, if any.
func ErrorPosition(err error) int64 {
	var e *Error
	if errors.As(err, &e) {
		return e.Position
	}
	return 0
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the message of the
// *Error in its chain, or a generic text for internal errors.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorDetails returns the details of the *Error in err's chain, if any.
func ErrorDetails(err error) map[string]any {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}
