package workflow_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

var update = flag.Bool("update", false, "rewrite testdata/err/*.out from the current output")

func load(t *testing.T, path string) (*workflow.Workflow, workflow.Errors) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return workflow.Load(filepath.Base(path), data, workflow.Options{Builtins: steps.NewSet(steps.UploadArtifact{}, steps.DownloadArtifact{})})
}

// Every file in testdata/ok is valid.
func TestOK(t *testing.T) {
	files, _ := filepath.Glob("testdata/ok/*.y*ml")
	if len(files) == 0 {
		t.Fatal("no testdata/ok files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, errs := load(t, f); len(errs) > 0 {
				t.Errorf("unexpected errors:\n%v", errs)
			}
		})
	}
}

// Every file in testdata/err gives exactly the errors in its .out file.
func TestErr(t *testing.T) {
	files, _ := filepath.Glob("testdata/err/*.yaml")
	if len(files) < 25 {
		t.Fatalf("the invalid corpus has %d files; keep at least 25", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, errs := load(t, f)
			if len(errs) == 0 {
				t.Fatal("no error reported")
			}
			got := errs.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".out"
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
				t.Errorf("errors differ\n--- got\n%s--- want\n%s", got, want)
			}
			for _, e := range errs {
				if e.Line < 1 || e.Col < 1 || e.Kind == "" {
					t.Errorf("error without position or kind: %#v", e)
				}
			}
		})
	}
}

func TestHugeWorkflow(t *testing.T) {
	big := "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n" + strings.Repeat("      - run: echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 150000)
	_, errs := workflow.Load("big.yaml", []byte(big), workflow.Options{})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "limit") {
		t.Fatalf("10 MB workflow: got %v", errs)
	}
	deep := "on: push\njobs: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n"
	if _, errs := workflow.Load("deep.yaml", []byte(deep), workflow.Options{}); len(errs) == 0 {
		t.Fatal("deep nesting accepted")
	}
}

func TestMatrixCombos(t *testing.T) {
	w, errs := load(t, "testdata/ok/full.yaml")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := workflow.NewPlan(w)
	if len(p.Levels) != 2 {
		t.Fatalf("levels = %d, want 2", len(p.Levels))
	}
	var build, dynamic *workflow.PlannedJob
	for _, pj := range p.Levels[1] {
		switch pj.Job.ID {
		case "build":
			build = pj
		case "dynamic":
			dynamic = pj
		}
	}
	if dynamic == nil || dynamic.Combos != nil {
		t.Fatalf("dynamic matrix should be expanded at run time: %+v", dynamic)
	}
	var names []string
	for _, c := range build.Combos {
		names = append(names, "build"+c.Suffix())
	}
	// exclude removes (front-end, 1.23); include adds port to back-end legs only.
	want := "build (back-end, 1.22, 8080)|build (back-end, 1.23, 8080)|build (front-end, 1.22)"
	if got := strings.Join(names, "|"); got != want {
		t.Fatalf("combos\n got %s\nwant %s", got, want)
	}
}

func TestMatrixIncludeNewCombo(t *testing.T) {
	m := &workflow.Matrix{
		Keys:    []string{"os"},
		Vectors: map[string][]any{"os": {"linux", "mac"}},
		Include: []*expr.Object{object("os", "windows", "shell", "pwsh"), object("os", "linux", "extra", true)},
	}
	combos, err := m.Combos()
	if err != nil {
		t.Fatal(err)
	}
	if len(combos) != 3 || combos[0].Values["extra"] != true || combos[1].Values["extra"] != nil || combos[2].Values["os"] != "windows" {
		t.Fatalf("got %+v", combos)
	}
}

// object builds an expression object from key, value pairs, in order.
func object(kv ...any) *expr.Object {
	o := expr.NewObject()
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}
