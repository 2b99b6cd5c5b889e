package workflow_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/workflow"
)

// checkAction is what runner check reports for an action.yml: its parse
// errors and the rules run over its steps, both severities, sorted.
func checkAction(t *testing.T, path string) workflow.Errors {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, errs := workflow.ParseAction(filepath.Base(path), data)
	errs = append(errs, workflow.DiagnoseAction(a, workflow.Options{})...)
	return errs
}

// Every action in testdata/action/ok has no problem of either severity.
func TestDiagnoseActionOK(t *testing.T) {
	files, _ := filepath.Glob("testdata/action/ok/*.yml")
	if len(files) == 0 {
		t.Fatal("no testdata/action/ok files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if errs := checkAction(t, f); len(errs) > 0 {
				t.Errorf("unexpected problems:\n%v", errs)
			}
		})
	}
}

// Every action in testdata/action/err gives exactly the problems in its
// .out file.
func TestDiagnoseActionErr(t *testing.T) {
	files, _ := filepath.Glob("testdata/action/err/*.yml")
	if len(files) == 0 {
		t.Fatal("no testdata/action/err files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			errs := checkAction(t, f)
			if len(errs) == 0 {
				t.Fatal("no problem reported")
			}
			got := errs.Error() + "\n" // warnings say so
			golden := strings.TrimSuffix(f, ".yml") + ".out"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing %s (run go test -update): %v", golden, err)
			}
			if got != string(want) {
				t.Errorf("problems differ\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}
