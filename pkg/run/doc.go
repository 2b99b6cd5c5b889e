// Package run executes a validated workflow: it schedules the job graph,
// runs each job's steps (shell scripts or built-in actions) with GitHub's
// semantics, masks secrets and records logs under the state directory.
// It does not parse workflows (pkg/workflow) or implement actions (pkg/steps).
package run
