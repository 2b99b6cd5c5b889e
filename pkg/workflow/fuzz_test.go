package workflow_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// FuzzLoad feeds arbitrary bytes to the parser and validator: they must
// return errors, never panic, and every error must have a position.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.y*ml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	builtins := steps.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		w, errs := workflow.Load("fuzz.yaml", data, workflow.Options{Builtins: builtins})
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 {
				t.Fatalf("error without position: %v", e)
			}
		}
		if len(errs) == 0 {
			workflow.NewPlan(w)
		}
	})
}
