// Package render renders Jinja templates the way jinjanator does (gonja v2
// with Jinja2-compatible settings and fixes) and writes the results
// atomically. It does not know about workflows or steps: pkg/steps and the
// CLI call it.
package render
