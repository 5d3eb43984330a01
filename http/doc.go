// Package http is Agenda's HTTP edge: the public JSON API (the contract is
// API.md, shared beside the repository; openapi.json is its document), the
// operational and admin endpoints, the live stream (/api/events and the
// WebSocket /api/ws, fed by the hub) and the embedded web UI under /ui/.
// It turns requests into commands and queries
// through small interfaces it declares, maps the error vocabulary of package
// agenda to status codes in one place (error.go), and never touches SQL.
package http
