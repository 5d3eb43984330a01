// Package http is Agenda's HTTP edge: the public JSON API of
// ../shared/API.md, the operational endpoints, and (with later issues) the
// WebSocket stream and web UI. It turns requests into commands and queries
// through small interfaces it declares, maps the error vocabulary of package
// agenda to status codes in one place (error.go), and never touches SQL.
package http
