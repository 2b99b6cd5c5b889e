// Package store keeps runner serve's runs, jobs, steps and poll positions in
// an embedded SQLite database (modernc.org/sqlite, no cgo). It holds no
// secrets and no logs: log lines live in files beside it.
package store
