package workflow_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// FuzzLoad feeds arbitrary bytes to the parser and every rule (errors
// and warnings): they must return problems, never panic, and every problem
// must have a position and a kind.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.y*ml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	builtins := steps.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		w, all := workflow.Check("fuzz.yaml", data, workflow.Options{Builtins: builtins})
		for _, e := range all {
			if e.Line < 1 || e.Col < 1 || e.Kind == "" {
				t.Fatalf("problem without position or kind: %v", e)
			}
		}
		if len(all.Only(workflow.SeverityError)) == 0 {
			workflow.NewPlan(w)
		}
	})
}

// FuzzParseAction feeds arbitrary bytes to the action.yml parser and to
// the rules runner check runs over a composite action's steps: problems,
// never a panic, each with a position and a kind.
func FuzzParseAction(f *testing.F) {
	files, _ := filepath.Glob("testdata/action/*/*.yml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("runs: {using: composite, steps: [{run: 'echo ${{ inputs.x }}', shell: bash, id: a}, {uses: ./x, with: {a: '${{ steps.a.outputs }}'}}]}\n"))
	f.Add([]byte("runs: {using: node20, main: x.js}\n"))
	builtins := steps.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, errs := workflow.ParseAction("action.yml", data)
		all := append(errs, workflow.DiagnoseAction(a, workflow.Options{Builtins: builtins})...)
		for _, e := range all {
			if e.Line < 1 || e.Col < 1 || e.Kind == "" {
				t.Fatalf("problem without position or kind: %v", e)
			}
		}
	})
}
