package workflow_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/workflow"
)

// Every file in testdata/warn is valid and gives exactly the warnings in
// its .out file; the files in testdata/ok give none.
func TestWarnings(t *testing.T) {
	files, _ := filepath.Glob("testdata/warn/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/warn files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			w, errs := load(t, f)
			if len(errs) > 0 {
				t.Fatalf("errors:\n%v", errs)
			}
			got := workflow.Warnings(w).Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".out"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	ok, _ := filepath.Glob("testdata/ok/*.y*ml")
	for _, f := range ok {
		if w, errs := load(t, f); len(errs) == 0 {
			if ws := workflow.Warnings(w); len(ws) > 0 {
				t.Errorf("%s: %v", f, ws)
			}
		}
	}
}
