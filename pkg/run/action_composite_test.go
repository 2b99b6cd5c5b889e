package run_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// runWithActions writes files (paths relative to a repository root) into
// a folder and runs src, whose steps copy that folder into the workspace
// first (`cp -R "$REPO/." .`, the checkout of these tests).
func runWithActions(t *testing.T, files map[string]string, src string, opts run.Options) (*run.Result, string) {
	t.Helper()
	return runWithActionsCtx(t, context.Background(), files, src, opts)
}

func runWithActionsCtx(t *testing.T, ctx context.Context, files map[string]string, src string, opts run.Options) (*run.Result, string) {
	t.Helper()
	repo := t.TempDir()
	for name, text := range files {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return runWF(t, ctx, src, run.Trigger{Env: map[string]string{"REPO": repo}}, opts)
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q\n%s", w, out)
		}
	}
}

func unwantedLines(t *testing.T, out string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(out, b) {
			t.Errorf("output has %q\n%s", b, out)
		}
	}
}

// Inputs (given, defaulted, required), outputs, the action's own steps
// context, github.action / GITHUB_ACTION named within the action,
// github.action_path / GITHUB_ACTION_PATH, and no INPUT_* variables: what a
// composite action's steps see on GitHub.
func TestCompositeInputsOutputsAndContexts(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		".github/actions/greet/action.yml": `
name: greet
inputs:
  who:
    required: true
  greeting:
    default: hello ${{ github.job }}
outputs:
  message:
    value: ${{ steps.say.outputs.msg }}
  callers:
    value: "[${{ steps.first.outputs.x }}]"
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      run: |
        echo "inner ${{ inputs.greeting }} ${{ inputs.who }} input-env=[${INPUT_WHO:-}] action=$GITHUB_ACTION ctx-action=${{ github.action }}"
        echo "path-env=$GITHUB_ACTION_PATH"
        echo "path-ctx=${{ github.action_path }}"
        echo "msg=${{ inputs.greeting }}, ${{ inputs.who }}" >> "$GITHUB_OUTPUT"
    - shell: bash
      run: echo "second action=$GITHUB_ACTION caller-step=[${{ steps.first.outputs.x }}] own=${{ steps.say.outputs.msg }}"
    - shell: bash
      run: echo "third action=$GITHUB_ACTION"
`,
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - id: first
        run: echo "x=from-caller" >> "$GITHUB_OUTPUT"
      - id: g
        uses: ./.github/actions/greet
        with:
          who: ana
      - run: |
          echo "after ${{ steps.g.outputs.message }} callers=${{ steps.g.outputs.callers }} action=$GITHUB_ACTION_PATH."
          echo 'steps=${{ toJSON(steps) }}' | tr -d ' \n'; echo
  required:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./.github/actions/greet
`, run.Options{})
	a := job(t, res, "a")
	if a.Result != "success" {
		t.Fatalf("job a: %s\n%s", a.Result, out)
	}
	ws := regexp.MustCompile(`path-env=(\S+)`).FindStringSubmatch(out)
	if ws == nil || !strings.HasSuffix(ws[1], "/workspace/.github/actions/greet") || !filepath.IsAbs(ws[1]) {
		t.Fatalf("GITHUB_ACTION_PATH: %v\n%s", ws, out)
	}
	wantLines(t, out,
		"inner hello a ana input-env=[] action=say ctx-action=say",
		"path-ctx="+ws[1],
		"second action=__run caller-step=[] own=hello a, ana",
		"third action=__run_2",
		"after hello a, ana callers=[] action=.",
		`steps={"first":{"outputs":{"x":"from-caller"},"outcome":"success","conclusion":"success"},"g":{"outputs":{"message":"helloa,ana","callers":"[]"},"outcome":"success","conclusion":"success"}}`,
	)
	if got := a.Steps[2].Name; got != "./.github/actions/greet" || len(a.Steps) != 4 {
		t.Errorf("the action is one step of the job, named after it: %+v", a.Steps)
	}
	req := job(t, res, "required")
	if req.Result != "failure" || !strings.Contains(req.Steps[1].Error, `test.yaml:21:15: input "who" is required by ./.github/actions/greet`) {
		t.Errorf("required input: %s %+v\n%s", req.Result, req.Steps, out)
	}
}

// Nested composite actions: inputs flow down, outputs up; what an inner
// step writes to GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY reaches
// the later inner steps (also of the outer action) and the job, also for a
// variable the workflow's env: already had (only a calling step's own env:
// keeps its value inside the action: TestCompositeGitHubEnvReachesLaterInnerSteps).
func TestCompositeNestedEnvPathAndOutputs(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		".github/actions/outer/action.yml": `
inputs:
  word: {default: outer-default}
outputs:
  got:
    value: ${{ steps.call.outputs.echoed }}-${{ steps.after.outputs.seen }}
runs:
  using: composite
  steps:
    - id: call
      uses: ./.github/actions/inner
      with:
        word: ${{ inputs.word }}
    - id: after
      shell: bash
      run: |
        echo "outer-after NEW=$NEW_VAR OLD=$OLD_VAR $(tool-from-inner)"
        echo "seen=$NEW_VAR" >> "$GITHUB_OUTPUT"
`,
		".github/actions/inner/action.yml": `
inputs:
  word: {required: true}
outputs:
  echoed:
    value: ${{ steps.e.outputs.w }}
runs:
  using: composite
  steps:
    - id: e
      shell: bash
      run: |
        echo "w=${{ inputs.word }}" >> "$GITHUB_OUTPUT"
        echo "NEW_VAR=new-${{ inputs.word }}" >> "$GITHUB_ENV"
        echo "OLD_VAR=changed" >> "$GITHUB_ENV"
        mkdir -p "$RUNNER_TEMP/innerbin"
        printf '#!/bin/sh\necho tool-ran\n' > "$RUNNER_TEMP/innerbin/tool-from-inner"
        chmod +x "$RUNNER_TEMP/innerbin/tool-from-inner"
        echo "$RUNNER_TEMP/innerbin" >> "$GITHUB_PATH"
        echo "### from the inner action" >> "$GITHUB_STEP_SUMMARY"
    - shell: bash
      run: echo "inner-second NEW=$NEW_VAR OLD=$OLD_VAR"
`,
	}, `
on: push
env:
  OLD_VAR: job-value
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - id: o
        uses: ./.github/actions/outer
        with:
          word: hi
      - run: |
          echo "job-after got=${{ steps.o.outputs.got }} NEW=$NEW_VAR OLD=$OLD_VAR $(tool-from-inner)"
          echo 'steps=${{ toJSON(steps) }}' | tr -d ' \n'; echo
`, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	wantLines(t, out,
		"inner-second NEW=new-hi OLD=changed",
		"outer-after NEW=new-hi OLD=changed tool-ran",
		"job-after got=hi-new-hi NEW=new-hi OLD=changed tool-ran",
		`steps={"o":{"outputs":{"got":"hi-new-hi"},"outcome":"success","conclusion":"success"}}`,
	)
	summary, err := os.ReadFile(filepath.Join(res.Dir, "summary.md"))
	if err != nil || string(summary) != "### from the inner action\n" {
		t.Errorf("summary.md: %q %v (written once, not again by the calling step)", summary, err)
	}
	if n := strings.Count(out, "tool-ran"); n != 2 {
		t.Errorf("tool ran %d times, want 2\n%s", n, out)
	}
}

// An action that uses itself through another is refused before its steps
// run, naming the chain and the place of the uses: that closes it.
func TestCompositeCycle(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"a/action.yml": "runs:\n  using: composite\n  steps:\n    - uses: ./b\n",
		"b/action.yml": "runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo b-ran\n    - uses: ./a\n",
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./a
`, run.Options{})
	if res.Conclusion != "failure" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	re := regexp.MustCompile(`/b/action\.yml:6:13: composite action \./a uses itself: \./a → \./b → \./a`)
	if !re.MatchString(out) {
		t.Errorf("no cycle error naming the chain\n%s", out)
	}
	if strings.Count(out, "| b-ran") != 1 {
		t.Errorf("b's first step should run once\n%s", out)
	}
}

// Composite actions nest 9 deep, as on GitHub's runner
// (CompositeActionsMaxDepth); the 10th is refused with the chain.
func TestCompositeDepthLimit(t *testing.T) {
	files := map[string]string{}
	for i := 2; i <= 10; i++ {
		files[fmt.Sprintf("d%d/action.yml", i)] = fmt.Sprintf("runs:\n  using: composite\n  steps:\n    - uses: ./d%d\n", i+1)
	}
	// ./d3 → … → ./d11 is 9 levels: it runs.
	files["d11/action.yml"] = "runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo deepest-ran\n"
	res, out := runWithActions(t, files, `
on: push
jobs:
  nine:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./d3
  ten:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./d2
`, run.Options{})
	if job(t, res, "nine").Result != "success" || !strings.Contains(out, "nine | deepest-ran") {
		t.Errorf("9 levels: %s\n%s", job(t, res, "nine").Result, out)
	}
	ten := job(t, res, "ten")
	if ten.Result != "failure" || strings.Contains(out, "ten | deepest-ran") ||
		!regexp.MustCompile(`/d10/action\.yml:4:13: composite action depth exceeded max depth 9: \./d2 → \./d3 → .* → \./d11`).MatchString(out) {
		t.Errorf("10 levels: %s\n%s", ten.Result, out)
	}
}

// Inside an action, if: and the status functions look at the action's own
// steps: continue-on-error tolerates a failure, the first real failure
// fails the action, later steps run only with failure() or always(); the
// job then goes on as after any failed step. An action called with
// if: always() after a failure runs its steps: success() inside is the
// action's status (GitHub's action_status), not the job's.
func TestCompositeFailureAndConditions(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"flow/action.yml": `
runs:
  using: composite
  steps:
    - id: soft
      shell: bash
      run: exit 2
      continue-on-error: true
    - shell: bash
      run: echo "after-soft ${{ steps.soft.outcome }}/${{ steps.soft.conclusion }}"
    - id: hard
      shell: bash
      run: echo "hard-ran"; exit 3
    - shell: bash
      run: echo never-runs
    - if: failure()
      shell: bash
      run: echo "on-failure ${{ steps.hard.outcome }}"
    - if: always()
      shell: bash
      run: echo "always-runs status=${{ github.action_status }}"
    - if: always() && env.GO == 'yes'
      env:
        GO: "yes"
      shell: bash
      run: echo env-if-ran
    - if: success()
      shell: bash
      run: echo success-skipped
`,
		"cleanup/action.yml": `
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "cleanup-ran job=${{ job.status }}"
`,
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - id: f
        uses: ./flow
      - run: echo job-step-never-runs
      - if: always()
        uses: ./cleanup
      - if: always()
        run: echo "job-after ${{ steps.f.outcome }}"
`, run.Options{})
	a := job(t, res, "a")
	if a.Result != "failure" || a.Steps[1].Conclusion != "failure" || a.Steps[2].Conclusion != "skipped" || a.Steps[3].Conclusion != "success" {
		t.Fatalf("job a: %s %+v\n%s", a.Result, a.Steps, out)
	}
	wantLines(t, out,
		"after-soft failure/success",
		"hard-ran",
		"Error: process completed with exit code 3",
		`Error: ./flow: step "Run echo \"hard-ran\"; exit 3" of the action failed`,
		"on-failure failure",
		"always-runs status=failure",
		"env-if-ran",
		"cleanup-ran job=failure",
		"job-after failure",
	)
	unwantedLines(t, out, "never-runs", "success-skipped")
}

// Secrets given as inputs stay masked in the action's output, and
// ::add-mask:: inside the action masks the value for the rest of the job;
// the secrets context itself is not available in an action (GitHub's
// "Unrecognized named-value"), the error placed in action.yml.
func TestCompositeMasksAndSecrets(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"m/action.yml": `
inputs:
  token: {required: true}
runs:
  using: composite
  steps:
    - shell: bash
      run: |
        echo "token=${{ inputs.token }}"
        echo "::add-mask::inner-made-value"
        echo "made inner-made-value"
`,
		"s/action.yml": `
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "${{ secrets.TOK }}"
`,
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./m
        with:
          token: ${{ secrets.TOK }}
      - run: echo "job inner-made-value"
      - uses: ./s
`, run.Options{Secrets: map[string]string{"TOK": "s3cr3t-value-1"}})
	unwantedLines(t, out, "s3cr3t-value-1", "inner-made-value")
	wantLines(t, out, "token=***", "made ***", "job ***")
	if !regexp.MustCompile(`/s/action\.yml:6:12: .*Unrecognized named-value: 'secrets'`).MatchString(out) || res.Conclusion != "failure" {
		t.Errorf("secrets in an action: %s\n%s", res.Conclusion, out)
	}
}

// working-directory inside an action is relative to the workspace; the
// job's defaults.run do not reach into the action (GitHub applies them to
// the job's own steps only).
func TestCompositeWorkingDirectory(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"sub/dir/keep": "",
		"wd/action.yml": `
runs:
  using: composite
  steps:
    - shell: bash
      working-directory: sub/dir
      run: echo "in=$(pwd)"
    - shell: bash
      run: echo "default=$(pwd)"
`,
	}, `
on: push
jobs:
  a:
    runs-on: x
    defaults:
      run:
        working-directory: no-such-dir
    steps:
      - run: cp -R "$REPO/." .
        working-directory: .
      - uses: ./wd
`, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	m := regexp.MustCompile(`\| default=(\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.HasSuffix(m[1], "/workspace") {
		t.Fatalf("default working directory: %v\n%s", m, out)
	}
	wantLines(t, out, "in="+m[1]+"/sub/dir")
}

// A run step without shell is a bad action.yml: the step fails with its
// FILE:LINE:COL before any of the action's steps run.
func TestCompositeRunStepWithoutShell(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"ns/action.yml": `
runs:
  using: composite
  steps:
    - shell: bash
      run: echo first-ran
    - run: echo no-shell
`,
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./ns
`, run.Options{})
	if res.Conclusion != "failure" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	if !regexp.MustCompile(`/ns/action\.yml:7:12: runs\.steps step 2: a composite action's run step needs "shell"`).MatchString(out) {
		t.Errorf("no error with the place in action.yml\n%s", out)
	}
	unwantedLines(t, out, "first-ran")
}

// The calling step's timeout-minutes covers the action's steps.
func TestCompositeTimeout(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"slow/action.yml": `
runs:
  using: composite
  steps:
    - shell: bash
      run: sleep 5
    - if: always()
      shell: bash
      run: echo late-step
`,
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./slow
        timeout-minutes: 0.005
`, run.Options{})
	a := job(t, res, "a")
	if a.Result != "failure" || !strings.Contains(a.Steps[1].Error, "exceeded its timeout of 0.005 minutes") {
		t.Errorf("job a: %s %+v\n%s", a.Result, a.Steps, out)
	}
}

// Cancelling the run while an action's step runs ends that step's
// processes and the action: its later steps do not start, the calling
// step is cancelled, and the job's cancelled() steps run.
func TestCompositeCancellation(t *testing.T) {
	dir := t.TempDir()
	res, out := runWithActionsCtx(t, cancelWhen(t, dir+"/started"), map[string]string{
		"long/action.yml": `
runs:
  using: composite
  steps:
    - shell: bash
      run: touch ` + dir + `/started; sleep 42.25
    - shell: bash
      run: echo next-inner-ran
`,
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./long
      - if: cancelled()
        run: echo "cancelled-ran ${{ job.status }}"
`, run.Options{})
	a := job(t, res, "a")
	if a.Result != "cancelled" || a.Steps[1].Conclusion != "cancelled" {
		t.Errorf("job a: %s %+v\n%s", a.Result, a.Steps, out)
	}
	wantLines(t, out, "cancelled-ran cancelled")
	unwantedLines(t, out, "next-inner-ran")
	if b, _ := exec.Command("pgrep", "-f", "sleep 42.25").Output(); len(b) > 0 {
		t.Errorf("the action's process outlived the run: %s", b)
	}
}

// An input default that fails to evaluate is placed in action.yml, also
// for an action a composite action uses.
func TestCompositeInputDefaultErrorPlace(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"outer/action.yml": "runs:\n  using: composite\n  steps:\n    - uses: ./bad\n",
		"bad/action.yml":   "inputs:\n  v:\n    default: ${{ fromJSON('{') }}\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo bad-ran\n",
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./outer
`, run.Options{})
	if res.Conclusion != "failure" || !regexp.MustCompile(`Error: \S*/bad/action\.yml:3:14: inputs\.v\.default: [^/]*\n`).MatchString(out) {
		t.Errorf("conclusion %s\n%s", res.Conclusion, out)
	}
	unwantedLines(t, out, "bad-ran")
}

// A built-in action used inside a composite action runs with the inner
// step's contexts; its outcome is in the action's steps context.
func TestCompositeUsesBuiltin(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"up/action.yml": `
inputs:
  name: {default: from-input}
runs:
  using: composite
  steps:
    - id: up
      uses: actions/upload-artifact@v4
      with:
        name: ${{ inputs.name }}
        path: nothing-here
        if-no-files-found: ignore
    - shell: bash
      run: echo "upload ${{ steps.up.outcome }}"
`,
	}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./up
`, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	wantLines(t, out, "▸ actions/upload-artifact@v4", "upload success")
}
