// Package actions finds the actions and reusable workflows that `uses:`
// names and reads their metadata: ./path in the workspace, owner/repo@ref
// from a git server (GitHub by default, or a mirror URL template, or a local
// folder of OWNER/REPO), cached under the state dir by commit.
//
// It sits beside package steps: the engine (package run) resolves a job's
// actions through a Resolver when the job is set up and runs them.
package actions
