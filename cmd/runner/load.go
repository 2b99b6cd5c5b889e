package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// findWorkflow resolves WORKFLOW: an existing file, else a name looked up
// as workflows/NAME.y(a)ml, then .github/workflows/NAME.y(a)ml in repo,
// then in the current directory (runner's own workflows/ run against any
// bird-flock repository).
func findWorkflow(arg, repo string) (string, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		return arg, nil
	}
	var tried []string
	for _, dir := range []string{"workflows", filepath.Join(".github", "workflows"), "./workflows", "./.github/workflows"} {
		base := repo
		if strings.HasPrefix(dir, "./") {
			base, dir = ".", dir[2:]
		}
		for _, ext := range []string{".yaml", ".yml"} {
			p := filepath.Join(base, dir, arg+ext)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
		}
	}
	return "", fmt.Errorf("workflow %q not found (tried %s)", arg, joinComma(tried))
}

// loadWorkflow reads, parses and validates a workflow; errors exit 2
// with every FILE:LINE:COL message on stderr. Warnings (risks in a valid
// workflow, such as script injection) go to stderr too, and the workflow
// is returned. labels are the repository's self-hosted runner labels
// (repoLabels), which runs-on may use without a warning.
func loadWorkflow(path string, builtins *steps.Set, labels []string) (*workflow.Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	display := path
	if rel, err := filepath.Rel(".", path); err == nil && !filepath.IsAbs(rel) && len(rel) < len(path) {
		display = rel
	}
	w, all := workflow.Check(display, data, workflow.Options{Builtins: builtins, RunnerLabels: labels})
	if errs := all.Only(workflow.SeverityError); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, e.Error())
		}
		return nil, &exitError{code: 2, err: errors.New("")}
	}
	for _, e := range all {
		fmt.Fprintln(os.Stderr, e.Error())
	}
	return w, nil
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
