package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

func newPlanCmd() *cobra.Command {
	var fl execFlags
	var jsonOut bool
	var explain string
	cmd := &cobra.Command{
		Use:   "plan WORKFLOW",
		Short: "Validate a workflow and print its job graph and run plan without running it",
		Long: `Validate a workflow and print, without running anything, how runner exec would run
it with the same flags: the run (its title from run-name, event, inputs, concurrency
group), then the job graph level by level with the matrix legs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repoDir, err := findRepo(fl.repo)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			path, err := findWorkflow(args[0], localDir(repoDir))
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			w, err := loadWorkflow(path, steps.Default(), repoLabels(localDir(repoDir)))
			if err != nil {
				return err
			}
			if explain != "" {
				return explainCache(&fl, w, repoDir, explain)
			}
			p := workflow.NewPlan(w)
			rp, opts, err := fl.plan(w, repoDir)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			calls, err := loadCalls(context.Background(), w, repoDir, opts, steps.Default())
			if err != nil {
				return err
			}
			rd, err := describeRun(rp)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if jsonOut {
				return printPlanJSON(p, rd, calls)
			}
			fmt.Printf("run: %s (event %s)\n", rd.Title, rd.Event)
			if rd.Concurrency != nil {
				cancel := ""
				if rd.Concurrency.CancelInProgress {
					cancel = ", cancel-in-progress"
				}
				fmt.Printf("concurrency: group %q%s\n", rd.Concurrency.Group, cancel)
			}
			name := w.File
			if w.Name.Set {
				name = w.Name.Raw
			}
			fmt.Printf("%s: %d jobs in %d levels (on: %s)\n", name, len(w.Jobs), len(p.Levels), strings.Join(w.On.Events, ", "))
			for i, level := range p.Levels {
				fmt.Printf("level %d:\n", i+1)
				for _, pj := range level {
					j := pj.Job
					needs := ""
					if len(j.Needs) > 0 {
						var ns []string
						for _, n := range j.Needs {
							ns = append(ns, n.Raw)
						}
						needs = "  needs: " + strings.Join(ns, ", ")
					}
					if j.Call != nil {
						fmt.Printf("  %s → %s%s\n", j.ID, j.Call.Uses.Raw, needs)
						printCalled(calls[j], j.ID, "    ")
					} else {
						fmt.Printf("  %s (%d steps)%s\n", j.ID, len(j.Steps), needs)
					}
					switch {
					case pj.Combos == nil:
						fmt.Printf("    matrix: from an expression, expanded at run time\n")
					case len(pj.Combos) > 1 || len(pj.Combos[0].Keys) > 0:
						for _, c := range pj.Combos {
							fmt.Printf("    - %s%s\n", j.ID, c.Suffix())
						}
					}
				}
			}
			return nil
		},
	}
	fl.addTriggerFlags(cmd)
	cmd.Flags().StringVar(&fl.repo, "repo", "", "repository holding the workflow (default: current git repository)")
	// A remote reusable workflow is fetched as runner exec fetches it.
	cmd.Flags().StringVar(&fl.state, "state", ".runner", "state directory: the cache of remote reusable workflows")
	cmd.Flags().StringVar(&fl.actionsSource, "actions-source", "", "where owner/repo/.github/workflows/FILE@ref workflows come from, as for runner exec (also $"+actions.EnvSource+")")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the plan as JSON")
	addExplainFlags(cmd, &fl, &explain)
	return cmd
}

// runPlan is what `runner plan` says about the run itself.
type runPlan struct {
	Title       string         `json:"title"`
	Event       string         `json:"event"`
	Inputs      map[string]any `json:"inputs,omitempty"`
	Concurrency *struct {
		Group            string `json:"group"`
		CancelInProgress bool   `json:"cancel_in_progress"`
	} `json:"concurrency,omitempty"`
}

// describeRun evaluates the plan's workflow-level expressions: run-name
// and the concurrency group, as runner exec and runner serve do.
func describeRun(p *run.Plan) (runPlan, error) {
	title, err := p.Title()
	if err != nil {
		return runPlan{}, err
	}
	out := runPlan{Title: title, Event: p.Event, Inputs: p.Inputs}
	group, cancel, err := p.Concurrency()
	if err != nil {
		return runPlan{}, err
	}
	if group != "" {
		out.Concurrency = &struct {
			Group            string `json:"group"`
			CancelInProgress bool   `json:"cancel_in_progress"`
		}{group, cancel}
	}
	return out, nil
}

func printPlanJSON(p *workflow.Plan, r runPlan, calls run.Calls) error {
	type job struct {
		ID      string   `json:"id"`
		Uses    string   `json:"uses,omitempty"`
		Calls   []string `json:"called_jobs,omitempty"` // the callee's jobs, as the run names them
		Needs   []string `json:"needs,omitempty"`
		Steps   int      `json:"steps"`
		Matrix  []string `json:"matrix,omitempty"`
		Dynamic bool     `json:"dynamic_matrix,omitempty"`
	}
	var levels [][]job
	for _, l := range p.Levels {
		var jobs []job
		for _, pj := range l {
			j := job{ID: pj.Job.ID, Steps: len(pj.Job.Steps), Dynamic: pj.Combos == nil}
			if c := pj.Job.Call; c != nil {
				j.Uses, j.Calls = c.Uses.Raw, calledJobs(calls[pj.Job], pj.Job.ID)
			}
			for _, n := range pj.Job.Needs {
				j.Needs = append(j.Needs, n.Raw)
			}
			for _, c := range pj.Combos {
				if len(c.Keys) > 0 {
					j.Matrix = append(j.Matrix, pj.Job.ID+c.Suffix())
				}
			}
			jobs = append(jobs, j)
		}
		levels = append(levels, jobs)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"run": r, "levels": levels})
}
