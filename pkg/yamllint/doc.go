// Package yamllint is a Go re-implementation of yamllint 1.29: its
// configuration model, its 22 rules, its disable comments and its output
// formats, producing byte-identical output. It lints YAML text; finding
// files and exit codes belong to the callers (cmd/runner, pkg/steps).
package yamllint
