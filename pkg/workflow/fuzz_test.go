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
