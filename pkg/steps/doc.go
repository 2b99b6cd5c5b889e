// Package steps holds the step interface and the built-in actions, one file
// each. It does not parse workflows or schedule jobs: the engine in pkg/run
// resolves inputs and calls Builtin.Run.
package steps
