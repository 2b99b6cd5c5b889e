// Package gittest makes real git repositories for tests, with go-git: bare
// origins, clones, commits, and an HTTP remote served by git's own
// http-backend behind basic auth. It is for tests only.
package gittest
