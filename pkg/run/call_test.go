package run_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/testenv"
	"github.com/birdflock/runner/pkg/workflow"
)

// callRepo writes a repository of workflow files (name → content, under
// .github/workflows) and returns its folder.
func callRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, ".github", "workflows", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runCall runs .github/workflows/main.yml of repo; err is Run's (or
// NewPlan's) error.
func runCall(t *testing.T, repo string, trig run.Trigger, opts run.Options) (*run.Result, string, error) {
	t.Helper()
	return runCallCtx(t, context.Background(), repo, trig, opts)
}

func runCallCtx(t *testing.T, ctx context.Context, repo string, trig run.Trigger, opts run.Options) (*run.Result, string, error) {
	t.Helper()
	file := ".github/workflows/main.yml"
	data, err := os.ReadFile(filepath.Join(repo, file))
	if err != nil {
		t.Fatal(err)
	}
	builtins := steps.Default()
	w, errs := workflow.Load(file, data, workflow.Options{Builtins: builtins})
	if len(errs) > 0 {
		t.Fatalf("invalid workflow:\n%v", errs)
	}
	out := &testenv.Buffer{}
	opts.Out, opts.Builtins, opts.KillGrace = out, builtins, 500*time.Millisecond
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	trig.Repo.Path = repo
	plan, err := run.NewPlan(w, trig)
	if err != nil {
		return nil, "", err
	}
	res, err := run.Run(ctx, plan, opts)
	return res, out.String(), err
}

func mustRunCall(t *testing.T, files map[string]string, opts run.Options) (*run.Result, string) {
	t.Helper()
	res, out, err := runCall(t, callRepo(t, files), run.Trigger{}, opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res, out
}

const libYAML = `on:
  workflow_call:
    inputs:
      flag: {type: boolean, required: true}
      count: {type: number}
      text: {type: string, default: dflt}
      other: {type: string, default: fallback}
      unset: {type: boolean}
    outputs:
      word:
        value: ${{ jobs.second.outputs.v }}-${{ inputs.text }}
env:
  LEVEL: callee
jobs:
  first:
    name: First ${{ inputs.text }}
    runs-on: x
    steps:
      - run: echo 'inputs=${{ toJSON(inputs) }}' | tr -d ' \n'; echo; echo "event=${{ github.event_name }} level=$LEVEL"
  second:
    needs: first
    runs-on: x
    outputs:
      v: ${{ steps.s.outputs.v }}
    steps:
      - id: s
        run: echo "v=from-second" >> "$GITHUB_OUTPUT"
`

// with: reaches the callee typed (boolean, number, string) with defaults
// for the rest; the callee's output, an expression over its jobs'
// outputs, is needs.<caller>.outputs in the caller; jobs are named
// "caller / job" as on GitHub, and a job that needs the caller waits for
// every callee job.
func TestCallInputsOutputsAndNames(t *testing.T) {
	res, out := mustRunCall(t, map[string]string{"lib.yml": libYAML, "main.yml": `on: push
env:
  LEVEL: caller
jobs:
  call:
    name: Caller
    uses: ./.github/workflows/lib.yml
    with:
      flag: true
      count: 3
      text: ${{ github.event_name }}-text
  after:
    needs: call
    runs-on: x
    steps:
      - run: echo "got=${{ needs.call.outputs.word }} result=${{ needs.call.result }}"
`}, run.Options{Parallel: 1}) // a calling job takes no slot: one is enough
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, out)
	}
	for _, want := range []string{
		`inputs={"count":3,"flag":true,"other":"fallback","text":"push-text","unset":false}`,
		"event=push level=callee",
		"got=from-second-push-text result=success",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	var keys, names []string
	for _, j := range res.Jobs {
		keys = append(keys, j.Key)
		names = append(names, j.Name)
	}
	if got := strings.Join(keys, ","); got != "call / first,call / second,after" {
		t.Errorf("keys %s", got)
	}
	if got := strings.Join(names, ","); got != "Caller / First push-text,Caller / second,after" {
		t.Errorf("names %s", got)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "call_first.log")); err != nil {
		t.Errorf("callee job log: %v", err)
	}
	first, after := job(t, res, "call / first"), job(t, res, "after")
	if after.Started.Before(job(t, res, "call / second").Started.Add(job(t, res, "call / second").Duration)) || first.JobID != "call/first" {
		t.Errorf("after started before the callee ended, or JobID %q", first.JobID)
	}
}

// A call that does not fit its callee is refused before anything runs,
// with FILE:LINE:COL in the caller's file, and no run directory is made.
func TestCallLoadErrors(t *testing.T) {
	lib := `on:
  workflow_call:
    inputs:
      need: {type: string, required: true}
      n: {type: number}
    secrets:
      tok: {required: true}
jobs:
  a: {runs-on: x, steps: [{run: "true"}]}
`
	for name, c := range map[string]struct{ main, want string }{
		"required input": {"jobs:\n  call:\n    uses: ./.github/workflows/lib.yml\n    secrets: inherit\n",
			`.github/workflows/main.yml:4:11: job call: input "need" is required by ./.github/workflows/lib.yml but not given in with:`},
		"unknown input": {"jobs:\n  call:\n    uses: ./.github/workflows/lib.yml\n    with: {need: x, nedd: y}\n    secrets: inherit\n",
			`.github/workflows/main.yml:5:21: job call: invalid input "nedd": it is not defined in ./.github/workflows/lib.yml`},
		"input type": {"jobs:\n  call:\n    uses: ./.github/workflows/lib.yml\n    with:\n      need: x\n      n: many\n    secrets: inherit\n",
			`.github/workflows/main.yml:7:10: job call: input "n" must be a number, not "many"`},
		"required secret": {"jobs:\n  call:\n    uses: ./.github/workflows/lib.yml\n    with: {need: x}\n    secrets: {other: x}\n",
			`.github/workflows/main.yml:6:15: job call: invalid secret "other"`},
		"missing secret": {"jobs:\n  call:\n    uses: ./.github/workflows/lib.yml\n    with: {need: x}\n",
			`.github/workflows/main.yml:4:11: job call: secret "tok" is required by ./.github/workflows/lib.yml but not given in secrets:`},
		"no workflow_call": {"jobs:\n  call:\n    uses: ./.github/workflows/push.yml\n",
			`.github/workflows/main.yml:4:11: job call: ./.github/workflows/push.yml has no on.workflow_call trigger, so it cannot be called (its triggers: push)`},
		"missing file": {"jobs:\n  call:\n    uses: ./.github/workflows/none.yml\n",
			`.github/workflows/main.yml:4:11: job call: read ./.github/workflows/none.yml: no such file or directory`},
		"needs output": {"jobs:\n  call:\n    uses: ./.github/workflows/lib.yml\n    with: {need: x}\n    secrets: inherit\n  d:\n    needs: call\n    runs-on: x\n    steps: [{run: 'echo ${{ needs.call.outputs.word }}'}]\n",
			`.github/workflows/main.yml:10:29: job d step 1: ./.github/workflows/lib.yml has no output "word"; its outputs: none`},
		"escape": {"jobs:\n  call:\n    uses: ./.github/workflows/link.yml\n",
			`.github/workflows/main.yml:4:11: job call: read ./.github/workflows/link.yml: no such file or directory`},
	} {
		t.Run(name, func(t *testing.T) {
			repo := callRepo(t, map[string]string{"lib.yml": lib, "main.yml": "on: push\n" + c.main, "push.yml": "on: push\njobs:\n  a: {runs-on: x, steps: [{run: 'true'}]}\n"})
			// A link out of the repository is followed inside it only.
			outside := filepath.Join(t.TempDir(), "x.yml")
			os.WriteFile(outside, []byte(lib), 0o644)
			os.Symlink(outside, filepath.Join(repo, ".github", "workflows", "link.yml"))
			state := t.TempDir()
			_, _, err := runCall(t, repo, run.Trigger{}, run.Options{StateDir: state})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant %s", err, c.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(state, "runs")); len(entries) > 0 {
				t.Errorf("a run directory was made: %v", entries)
			}
		})
	}
}

// secrets: maps the caller's secrets to the callee's names (the others
// are not there); inherit passes them all; GITHUB_TOKEN always. Values
// stay masked in the output and the records.
func TestCallSecrets(t *testing.T) {
	lib := `on:
  workflow_call:
    secrets:
      tok: {required: false}
jobs:
  show:
    runs-on: x
    steps:
      - run: echo "tok=[${{ secrets.tok }}] b=[${{ secrets.B }}] gh=[${{ secrets.GITHUB_TOKEN }}]"
`
	res, out := mustRunCall(t, map[string]string{"lib.yml": lib, "main.yml": `on: push
jobs:
  mapped:
    uses: ./.github/workflows/lib.yml
    secrets:
      tok: ${{ secrets.A }}
  inherit:
    uses: ./.github/workflows/lib.yml
    secrets: inherit
`}, run.Options{Secrets: map[string]string{"A": "alpha-secret-1", "B": "bravo-secret-2", "GITHUB_TOKEN": "ghs_tokenvalue"}})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, out)
	}
	all := runLog(t, res, out)
	for _, leak := range []string{"alpha-secret-1", "bravo-secret-2", "ghs_tokenvalue"} {
		if strings.Contains(all, leak) {
			t.Errorf("%s leaked:\n%s", leak, all)
		}
	}
	if !strings.Contains(out, "tok=[***] b=[] gh=[***]") {
		t.Errorf("mapped secrets wrong:\n%s", out)
	}
	if !strings.Contains(out, "tok=[] b=[***] gh=[***]") {
		t.Errorf("inherited secrets wrong:\n%s", out)
	}
}

// A matrix on the caller runs the callee once per leg, each with its own
// matrix-dependent with:, named "caller (value) / job".
func TestCallMatrix(t *testing.T) {
	lib := `on:
  workflow_call:
    inputs:
      os: {type: string, required: true}
jobs:
  build:
    runs-on: x
    steps:
      - run: echo "building for ${{ inputs.os }}"
`
	res, out := mustRunCall(t, map[string]string{"lib.yml": lib, "main.yml": `on: push
jobs:
  call:
    strategy:
      matrix:
        os: [linux, mac]
    uses: ./.github/workflows/lib.yml
    with:
      os: ${{ matrix.os }}-x
`}, run.Options{Parallel: 1})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, out)
	}
	for _, want := range []string{"building for linux-x", "building for mac-x"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q:\n%s", want, out)
		}
	}
	if job(t, res, "call (linux) / build").Name != "call (linux) / build" || job(t, res, "call (mac) / build").Result != "success" {
		t.Errorf("jobs %+v", res.Jobs)
	}
}

// A called workflow calls another: outputs travel up both levels. A
// workflow that calls itself, directly or not, is a cycle error; a chain
// past GitHub's ten levels is refused.
func TestCallNestingAndCycles(t *testing.T) {
	res, out := mustRunCall(t, map[string]string{
		"main.yml": "on: push\njobs:\n  top:\n    uses: ./.github/workflows/mid.yml\n  show:\n    needs: top\n    runs-on: x\n    steps: [{run: 'echo \"deep=${{ needs.top.outputs.o }}\"'}]\n",
		"mid.yml":  "on:\n  workflow_call:\n    outputs:\n      o: {value: '${{ jobs.inner.outputs.o }}'}\njobs:\n  inner:\n    uses: ./.github/workflows/leaf.yml\n    with: {v: nested}\n",
		"leaf.yml": "on:\n  workflow_call:\n    inputs: {v: {type: string}}\n    outputs:\n      o: {value: '${{ jobs.j.outputs.o }}'}\njobs:\n  j:\n    runs-on: x\n    outputs: {o: '${{ steps.s.outputs.o }}'}\n    steps: [{id: s, run: 'echo \"o=leaf-${{ inputs.v }}\" >> $GITHUB_OUTPUT'}]\n",
	}, run.Options{})
	if res.Conclusion != "success" || !strings.Contains(out, "deep=leaf-nested") {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, out)
	}
	if job(t, res, "top / inner / j").Name != "top / inner / j" {
		t.Errorf("jobs %+v", res.Jobs)
	}

	call := func(next string) string {
		return "on: [workflow_call]\njobs:\n  c:\n    uses: ./.github/workflows/" + next + "\n"
	}
	_, _, err := runCall(t, callRepo(t, map[string]string{
		"main.yml": "on: push\njobs:\n  c:\n    uses: ./.github/workflows/a.yml\n",
		"a.yml":    call("b.yml"),
		"b.yml":    call("a.yml"),
	}), run.Trigger{}, run.Options{})
	if err == nil || !strings.Contains(err.Error(), ".github/workflows/b.yml:4:11: job c: ./.github/workflows/a.yml calls itself: .github/workflows/main.yml → .github/workflows/a.yml → .github/workflows/b.yml → .github/workflows/a.yml") {
		t.Errorf("cycle: %v", err)
	}

	files := map[string]string{"main.yml": "on: push\njobs:\n  c:\n    uses: ./.github/workflows/w1.yml\n"}
	for i := 1; i < 9; i++ {
		files[fmt.Sprintf("w%d.yml", i)] = call(fmt.Sprintf("w%d.yml", i+1))
	}
	files["w9.yml"] = "on: [workflow_call]\njobs:\n  j: {runs-on: x, steps: [{run: 'true'}]}\n"
	if _, out, err := runCall(t, callRepo(t, files), run.Trigger{}, run.Options{}); err != nil {
		t.Errorf("ten levels in all are allowed: %v\n%s", err, out)
	}
	files["w9.yml"] = call("w10.yml")
	files["w10.yml"] = files["w8.yml"]
	if _, _, err := runCall(t, callRepo(t, files), run.Trigger{}, run.Options{}); err == nil || !strings.Contains(err.Error(), "w9.yml:4:11: job c: calling ./.github/workflows/w10.yml goes past GitHub's limit of 10 levels") {
		t.Errorf("eleven levels: %v", err)
	}
}

// A failed callee job fails the caller, and what needs the caller is
// skipped; if: on the caller decides whether the callee runs at all.
func TestCallFailureAndIf(t *testing.T) {
	lib := `on: [workflow_call]
jobs:
  ok:
    runs-on: x
    steps: [{run: echo callee-ran}]
  bad:
    runs-on: x
    steps: [{run: exit 3}]
`
	res, out := mustRunCall(t, map[string]string{"lib.yml": lib, "main.yml": `on: push
jobs:
  call:
    uses: ./.github/workflows/lib.yml
  down:
    needs: call
    runs-on: x
    steps: [{run: echo down-ran}]
  report:
    needs: call
    if: always()
    runs-on: x
    steps: [{run: 'echo "call was ${{ needs.call.result }}"'}]
  never:
    if: vars.NOPE == 'yes'
    uses: ./.github/workflows/lib.yml
  after-never:
    needs: never
    if: always()
    runs-on: x
    steps: [{run: 'echo "never was ${{ needs.never.result }}"'}]
`}, run.Options{})
	if res.Conclusion != "failure" {
		t.Errorf("conclusion %s", res.Conclusion)
	}
	if strings.Contains(out, "down-ran") || job(t, res, "down").Result != "skipped" {
		t.Errorf("down ran:\n%s", out)
	}
	if !strings.Contains(out, "call was failure") || !strings.Contains(out, "never was skipped") {
		t.Errorf("needs results:\n%s", out)
	}
	if job(t, res, "call / bad").Result != "failure" || job(t, res, "never").Result != "skipped" || strings.Count(out, "| callee-ran") != 1 {
		for _, j := range res.Jobs {
			t.Logf("%s: %s", j.Key, j.Result)
		}
		t.Errorf("output:\n%s", out)
	}
}

// A reusable workflow run by itself takes its workflow_call inputs,
// typed; unknown or mistyped ones are refused.
func TestExecWorkflowCall(t *testing.T) {
	repo := callRepo(t, map[string]string{"main.yml": `on:
  workflow_call:
    inputs:
      n: {type: number, required: true}
      b: {type: boolean, default: true}
jobs:
  j:
    runs-on: x
    steps: [{run: "echo 'inputs=${{ toJSON(inputs) }}' | tr -d ' \\n'"}]
`})
	res, out, err := runCall(t, repo, run.Trigger{Event: "workflow_call", Inputs: map[string]string{"n": "2.5"}}, run.Options{})
	if err != nil || res.Conclusion != "success" || !strings.Contains(out, `inputs={"b":true,"n":2.5}`) {
		t.Fatalf("err %v:\n%s", err, out)
	}
	for in, want := range map[string]string{"x": `unknown input "x"`, "n": `input "n" must be a number, not "ten"`} {
		_, _, err := runCall(t, repo, run.Trigger{Event: "workflow_call", Inputs: map[string]string{in: "ten"}}, run.Options{})
		if !errors.Is(err, run.ErrInputs) || !strings.Contains(err.Error(), want) {
			t.Errorf("input %s: %v", in, err)
		}
	}
}

// max-parallel on the caller runs its legs' callees one call at a time;
// with fail-fast, a failed leg cancels those not started yet.
func TestCallMatrixMaxParallelFailFast(t *testing.T) {
	lib := `on:
  workflow_call:
    inputs:
      n: {type: number, required: true}
jobs:
  work:
    runs-on: x
    steps:
      - run: echo "leg ${{ inputs.n }}"; test "${{ inputs.n }}" != 2
`
	res, out := mustRunCall(t, map[string]string{"lib.yml": lib, "main.yml": `on: push
jobs:
  call:
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2, 3]
    uses: ./.github/workflows/lib.yml
    with:
      n: ${{ matrix.n }}
`}, run.Options{})
	if res.Conclusion != "failure" || strings.Contains(out, "| leg 3") {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, out)
	}
	one, two := job(t, res, "call (1) / work"), job(t, res, "call (2) / work")
	if one.Result != "success" || two.Result != "failure" || job(t, res, "call (3)").Result != "cancelled" {
		t.Errorf("jobs %+v", res.Jobs)
	}
	if two.Started.Before(one.Started.Add(one.Duration)) {
		t.Errorf("leg 2 started before leg 1 ended")
	}
}

// A remote reusable workflow (owner/repo/.github/workflows/x.yml@ref)
// comes through the action source, here a local folder; its own ./ calls
// are files of that repository. A missing one is an error at the uses:.
func TestCallRemote(t *testing.T) {
	source := t.TempDir()
	lib := filepath.Join(source, "org", "lib", ".github", "workflows")
	os.MkdirAll(lib, 0o755)
	os.WriteFile(filepath.Join(lib, "remote.yml"), []byte("on:\n  workflow_call:\n    outputs:\n      o: {value: '${{ jobs.inner.outputs.o }}'}\njobs:\n  inner:\n    uses: ./.github/workflows/inner.yml\n"), 0o644)
	os.WriteFile(filepath.Join(lib, "inner.yml"), []byte("on:\n  workflow_call:\n    outputs:\n      o: {value: '${{ jobs.j.outputs.o }}'}\njobs:\n  j:\n    runs-on: x\n    outputs: {o: '${{ steps.s.outputs.o }}'}\n    steps: [{id: s, run: 'echo o=from-remote >> $GITHUB_OUTPUT'}]\n"), 0o644)
	state := t.TempDir()
	opts := run.Options{StateDir: state, Actions: &actions.Resolver{StateDir: state, Source: actions.Source{Dir: source}}}
	repo := callRepo(t, map[string]string{"main.yml": `on: push
jobs:
  call:
    uses: org/lib/.github/workflows/remote.yml@v1
  show:
    needs: call
    runs-on: x
    steps: [{run: 'echo "got ${{ needs.call.outputs.o }}"'}]
  missing:
    uses: org/none/.github/workflows/remote.yml@v1
`})
	_, _, err := runCall(t, repo, run.Trigger{}, opts)
	if err == nil || !strings.Contains(err.Error(), ".github/workflows/main.yml:10:11: job missing: org/none@v1:") {
		t.Fatalf("missing remote workflow: %v", err)
	}
	os.WriteFile(filepath.Join(repo, ".github", "workflows", "main.yml"), []byte("on: push\njobs:\n  call:\n    uses: org/lib/.github/workflows/remote.yml@v1\n  show:\n    needs: call\n    runs-on: x\n    steps: [{run: 'echo \"got ${{ needs.call.outputs.o }}\"'}]\n"), 0o644)
	res, out, err := runCall(t, repo, run.Trigger{}, opts)
	if err != nil || res.Conclusion != "success" || !strings.Contains(out, "got from-remote") {
		t.Fatalf("err %v:\n%s", err, out)
	}
	if job(t, res, "call / inner / j").Result != "success" {
		t.Errorf("jobs %+v", res.Jobs)
	}
}

// A with: value whose expression does not fit the input's type fails
// that leg of the caller, with the value's position; the other leg runs.
func TestCallInputTypeAtRunTime(t *testing.T) {
	lib := "on:\n  workflow_call:\n    inputs:\n      n: {type: number, required: true}\njobs:\n  j:\n    runs-on: x\n    steps: [{run: 'echo n=${{ inputs.n }}'}]\n"
	res, out := mustRunCall(t, map[string]string{"lib.yml": lib, "main.yml": `on: push
jobs:
  call:
    strategy:
      fail-fast: false
      matrix:
        v: ['7', seven]
    uses: ./.github/workflows/lib.yml
    with:
      n: ${{ matrix.v }}
`}, run.Options{})
	bad := job(t, res, "call (seven)")
	if res.Conclusion != "failure" || bad.Result != "failure" || !strings.Contains(bad.Error, `.github/workflows/main.yml:10:10: input "n" must be a number, not "seven"`) {
		t.Errorf("conclusion %s, %+v\n%s", res.Conclusion, bad, out)
	}
	if job(t, res, "call (7) / j").Result != "success" || !strings.Contains(out, "n=7") {
		t.Errorf("the good leg:\n%s", out)
	}
}

// Cancelling the run cancels the callee's running job, skips the callee
// jobs not started, and the call's result is cancelled; a dependent with
// if: always() still runs and sees it.
func TestCallCancelled(t *testing.T) {
	dir := t.TempDir()
	repo := callRepo(t, map[string]string{
		"lib.yml": "on: [workflow_call]\njobs:\n  long:\n    runs-on: x\n    steps: [{run: 'touch " + dir + "/started; sleep 30'}]\n  later:\n    needs: long\n    runs-on: x\n    steps: [{run: echo later-ran}]\n",
		"main.yml": `on: push
jobs:
  call:
    uses: ./.github/workflows/lib.yml
  report:
    needs: call
    if: always()
    runs-on: x
    steps: [{run: 'echo "call was ${{ needs.call.result }}"'}]
`})
	res, out, err := runCallCtx(t, cancelWhen(t, dir+"/started"), repo, run.Trigger{}, run.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Conclusion != "cancelled" || !strings.Contains(out, "call was cancelled") || strings.Contains(out, "| later-ran") {
		t.Errorf("conclusion %s:\n%s", res.Conclusion, out)
	}
	if job(t, res, "call / long").Result != "cancelled" || job(t, res, "call / later").Result != "skipped" || job(t, res, "report").Result != "success" {
		for _, j := range res.Jobs {
			t.Logf("%s: %s", j.Key, j.Result)
		}
		t.Error("job results")
	}
}
