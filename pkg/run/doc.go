// Package run executes a validated workflow: it schedules the job graph,
// runs each job's steps (shell scripts or built-in actions) with GitHub's
// semantics, masks secrets and records logs under the state directory.
// It does not parse workflows (pkg/workflow) or implement actions (pkg/steps).
//
// The boundary with what drives it (runner exec, runner serve, an executor
// elsewhere) is three values: a Plan (NewPlan: the workflow and its
// Trigger resolved, with the workflow-level contexts that run-name and
// concurrency groups are evaluated from), Options (how to execute: state
// dir, parallelism, secrets, runner's settings for the built-ins) and an
// Observer that receives the run's typed, masked events. Options.Remote
// (a LegTransport) runs each job leg elsewhere, a pod or a child process
// running ServeLeg (runner job --stdio), over one byte stream
// (docs/kubernetes.md).
package run
