// Package serve is runner's long-running service: it queues workflow runs
// from GitHub-compatible dispatch calls, signed webhooks and git polling,
// executes them with pkg/run behind an Executor, keeps them in SQLite and
// serves the API and web UI. It does not parse or execute workflows itself.
package serve
