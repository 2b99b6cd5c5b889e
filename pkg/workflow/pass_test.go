package workflow

import (
	"fmt"
	"strings"
	"testing"
)

// The pass hands every node to a rule in file order, each expression
// with its job, step and parsed tree; Check keeps both severities and
// Load only the errors.
func TestPass(t *testing.T) {
	data := []byte(`on: push
env: {A: "${{ github.sha }}"}
jobs:
  a:
    if: github.ref
    runs-on: ubuntu-latest
    steps:
      - {id: s, run: "echo ${{ github.head_ref }} ${{ job.status }}"}
`)
	w, errs := Parse("p.yaml", data)
	if errs != nil {
		t.Fatal(errs)
	}
	var got []string
	saved := rules
	defer func() { rules = saved }()
	rules = append(rules[:len(rules):len(rules)], func() *rule {
		return &rule{
			workflow: func(*validator, *Workflow) { got = append(got, "workflow") },
			job:      func(_ *validator, j *Job) { got = append(got, "job "+j.ID) },
			step:     func(_ *validator, _ *Job, s *Step) { got = append(got, "step "+s.ID.Raw) },
			expr: func(_ *validator, e *exprNode) {
				where := "-"
				if e.step != nil {
					where = e.job.ID + "/" + e.step.ID.Raw
				} else if e.job != nil {
					where = e.job.ID
				}
				got = append(got, fmt.Sprintf("expr %s %s %d", e.where, where, len(e.nodes)))
			},
			done: func(*validator, *Workflow) { got = append(got, "done") },
		}
	})
	all := Diagnose(w, Options{})
	want := "workflow|expr env.A - 1|job a|expr job a.if a 1|expr job a.runs-on a 0|step s|expr job a step 1 a/s 2|done"
	if s := strings.Join(got, "|"); s != want {
		t.Errorf("visits\n got %s\nwant %s", s, want)
	}
	if len(all.Only(SeverityWarning)) != 1 || all.Only(SeverityWarning)[0].Kind != "injection" {
		t.Errorf("warnings: %v", all.Only(SeverityWarning))
	}
	if _, errs := Load("p.yaml", data, Options{}); errs != nil {
		t.Errorf("Load returned %v", errs)
	}
}

// Options.RunnerLabels silences the runs-on warning for those labels
// (patterns, any case).
func TestRunnerLabels(t *testing.T) {
	data := []byte("on: push\njobs:\n  a:\n    runs-on: [linux, GPU-box-2]\n    steps: [{run: echo}]\n")
	w, errs := Parse("l.yaml", data)
	if errs != nil {
		t.Fatal(errs)
	}
	if got := Diagnose(w, Options{}); len(got) != 1 || got[0].Kind != "runs-on" || got[0].Col != 22 {
		t.Fatalf("without labels: %v", got)
	}
	if got := Diagnose(w, Options{RunnerLabels: []string{"gpu-box-*"}}); len(got) != 0 {
		t.Fatalf("with labels: %v", got)
	}
}
