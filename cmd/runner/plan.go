package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

func newPlanCmd() *cobra.Command {
	var repo string
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "plan WORKFLOW",
		Short: "Validate a workflow and print its job graph without running it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repoDir, err := findRepo(repo)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			path, err := findWorkflow(args[0], localDir(repoDir))
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			w, err := loadWorkflow(path, steps.Default())
			if err != nil {
				return err
			}
			// Risks such as script injection are warnings: the exit
			// status stays 0, as the workflow is valid.
			for _, warn := range workflow.Warnings(w) {
				fmt.Fprintln(cmd.ErrOrStderr(), warn.Error())
			}
			p := workflow.NewPlan(w)
			if jsonOut {
				return printPlanJSON(p)
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
					fmt.Printf("  %s (%d steps)%s\n", j.ID, len(j.Steps), needs)
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
	cmd.Flags().StringVar(&repo, "repo", "", "repository holding the workflow (default: current git repository)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the plan as JSON")
	return cmd
}

func printPlanJSON(p *workflow.Plan) error {
	type job struct {
		ID      string   `json:"id"`
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
	return enc.Encode(map[string]any{"levels": levels})
}
