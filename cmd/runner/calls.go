package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// loadCalls loads and checks the reusable workflows w's jobs call: local
// ones from the repository's folder, remote ones through opts.Actions (by
// default from the state dir's cache). Errors exit 2 with every
// FILE:LINE:COL message on stderr, as loadWorkflow's.
func loadCalls(ctx context.Context, w *workflow.Workflow, repoDir string, opts run.Options, builtins *steps.Set) (run.Calls, error) {
	l := &run.CallLoader{
		Root:    localDir(repoDir),
		Actions: opts.Actions,
		Token:   opts.Secrets["GITHUB_TOKEN"],
		Options: workflow.Options{Builtins: builtins, RunnerLabels: repoLabels(localDir(repoDir))},
	}
	if l.Actions == nil {
		state, err := filepath.Abs(opts.StateDir)
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		l.Actions = &actions.Resolver{StateDir: state}
	}
	calls, err := l.Load(ctx, w)
	var errs workflow.Errors
	switch {
	case errors.As(err, &errs):
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, e.Error())
		}
		return nil, &exitError{code: 2, err: errors.New("")}
	case err != nil:
		return nil, &exitError{code: 2, err: err}
	}
	return calls, nil
}

// printCalled prints the jobs of the workflow a job calls, level by level,
// named as the run names them (caller / job), and theirs in turn.
func printCalled(c *run.Called, caller, indent string) {
	if c == nil {
		return
	}
	for _, level := range workflow.NewPlan(c.Workflow).Levels {
		for _, pj := range level {
			j := pj.Job
			name := caller + " / " + j.ID
			if j.Call != nil {
				fmt.Printf("%s%s → %s%s\n", indent, name, j.Call.Uses.Raw, needsText(j))
				printCalled(c.Calls[j], name, indent+"  ")
				continue
			}
			fmt.Printf("%s%s (%d steps)%s\n", indent, name, len(j.Steps), needsText(j))
		}
	}
}

// calledJobs lists the jobs a call runs, named as the run names them.
func calledJobs(c *run.Called, caller string) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, level := range workflow.NewPlan(c.Workflow).Levels {
		for _, pj := range level {
			name := caller + " / " + pj.Job.ID
			if pj.Job.Call != nil {
				out = append(out, calledJobs(c.Calls[pj.Job], name)...)
				continue
			}
			out = append(out, name)
		}
	}
	return out
}

func needsText(j *workflow.Job) string {
	if len(j.Needs) == 0 {
		return ""
	}
	var ns []string
	for _, n := range j.Needs {
		ns = append(ns, n.Raw)
	}
	return "  needs: " + strings.Join(ns, ", ")
}

// checkCalls is runner check's look at the reusable workflows w calls
// from its own repository (root): each call against its callee (inputs,
// secrets, the workflow_call trigger), cycles and depth. Remote calls are
// not fetched. Only problems in w's file are returned: a callee's own are
// reported when that file is checked. Nothing is checked while w itself
// has errors.
func checkCalls(w *workflow.Workflow, errs workflow.Errors, root string, opts workflow.Options) workflow.Errors {
	if w == nil || len(errs.Only(workflow.SeverityError)) > 0 || root == "" {
		return nil
	}
	calls := false
	for _, j := range w.Jobs {
		calls = calls || j.Call != nil
	}
	if st, err := os.Stat(root); !calls || err != nil || !st.IsDir() {
		return nil
	}
	l := &run.CallLoader{Root: root, Options: opts, LocalOnly: true}
	_, err := l.Load(context.Background(), w)
	var all workflow.Errors
	if !errors.As(err, &all) {
		return nil
	}
	var out workflow.Errors
	for _, e := range all {
		if e.File == w.File {
			out = append(out, e)
		}
	}
	return out
}

// callSecretsGiven checks, for a reusable workflow run by itself (event
// workflow_call), that every secret its on.workflow_call requires was
// given, as its required inputs are: a caller on GitHub could not leave
// one out. Secret names compare in any case, as on GitHub.
func callSecretsGiven(p *run.Plan, secrets map[string]string) error {
	wc := p.Workflow.On.Call
	if p.Event != "workflow_call" || wc == nil {
		return nil
	}
	var missing []string
	for _, s := range wc.Secrets {
		if !s.Required {
			continue
		}
		found := false
		for k, v := range secrets {
			if strings.EqualFold(k, s.Name) && v != "" {
				found = true
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("secret %q is required by on.workflow_call (give it with --secret %s=VALUE)", s.Name, s.Name))
		}
	}
	if len(missing) > 0 {
		return errors.New(strings.Join(missing, "; "))
	}
	return nil
}
