package run_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// GITHUB_ACTION is the step's id, else GitHub's __run, __run_2, … counted
// over the run: steps only (a step that uses an action is named after it).
func TestGitHubActionNames(t *testing.T) {
	_, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: echo "first $GITHUB_ACTION"
      - run: echo "second $GITHUB_ACTION"
      - id: named
        run: echo "named $GITHUB_ACTION"
      - uses: actions/upload-artifact@v4
        with: {name: x, path: nothing-here, if-no-files-found: ignore}
      - uses: actions/upload-artifact@v4
        with: {name: y, path: nothing-here, if-no-files-found: ignore}
      - run: echo "after-uses $GITHUB_ACTION"
`, run.Trigger{}, run.Options{})
	for _, want := range []string{"first __run\n", "second __run_2\n", "named named\n", "after-uses __run_3\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// A custom shell keeps its quoted arguments; {0} is the script file.
func TestCustomShellKeepsQuotedArguments(t *testing.T) {
	_, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: echo "from the script"
        shell: bash -c "echo custom-arg {0}; cat {0}"
`, run.Trigger{}, run.Options{})
	for _, want := range []string{"custom-arg /", `| echo "from the script"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// timeout-minutes may be an expression and a fraction of a minute.
func TestStepTimeoutMinutesExpression(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: sleep 5
        timeout-minutes: ${{ 0.005 }}
`, run.Trigger{}, run.Options{})
	if !strings.Contains(out, "exceeded its timeout of 0.005 minutes") || res.Conclusion != "failure" {
		t.Errorf("conclusion %s, output:\n%s", res.Conclusion, out)
	}
}

// What a step writes to $GITHUB_STEP_SUMMARY is appended to the run's
// summary.md, masked; when that cannot be written the step fails and says
// so, instead of the summary being dropped without a word.
func TestStepSummary(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: echo "### built with $TOK" >> "$GITHUB_STEP_SUMMARY"
        env:
          TOK: ${{ secrets.TOK }}
`, run.Trigger{}, run.Options{Secrets: map[string]string{"TOK": "summary-secret-42"}})
	b, err := os.ReadFile(filepath.Join(res.Dir, "summary.md"))
	if err != nil || string(b) != "### built with ***\n" {
		t.Fatalf("summary.md: %q, %v\n%s", b, err, out)
	}
	res, out = runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          mkdir "$(dirname "$GITHUB_EVENT_PATH")/summary.md"
          echo "### lost" >> "$GITHUB_STEP_SUMMARY"
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "failure" || !strings.Contains(out, "the run's step summary") {
		t.Fatalf("conclusion %s; output:\n%s", res.Conclusion, out)
	}
}

// An if: whose ${{ }} has text or whitespace around it is a string on
// GitHub, so always true: the step runs although the expression is false.
func TestConditionWithTextAroundIsAString(t *testing.T) {
	_, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - if: '${{ false }} '
        run: echo quoted-space ran
      - if: |
          ${{ false }}
        run: echo block ran
      - if: ${{ false }}
        run: echo plain ran
`, run.Trigger{}, run.Options{})
	for _, want := range []string{"quoted-space ran", "block ran"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "plain ran") {
		t.Errorf("if: ${{ false }} ran\n%s", out)
	}
}

// ::set-env and ::add-path work only with ACTIONS_ALLOW_UNSECURE_COMMANDS
// set to true, as on GitHub; otherwise they fail the step with GitHub's
// error annotation.
func TestUnsecureCommands(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  refused:
    runs-on: x
    steps:
      - run: echo "::set-env name=FOO::bar"
      - if: always()
        run: echo "FOO=[$FOO]"
  allowed:
    runs-on: x
    env:
      ACTIONS_ALLOW_UNSECURE_COMMANDS: true
    steps:
      - run: |
          echo "::set-env name=FOO::bar"
          echo "::add-path::/opt/unsecure/bin"
      - run: echo "FOO=[$FOO] PATH=$PATH"
`, run.Trigger{}, run.Options{})
	refused := job(t, res, "refused")
	if refused.Result != "failure" || refused.Steps[0].Conclusion != "failure" {
		t.Errorf("refused: %s / step %s, want failure\n%s", refused.Result, refused.Steps[0].Conclusion, out)
	}
	for _, want := range []string{"The `set-env` command is disabled", "FOO=[]", "FOO=[bar] PATH=/opt/unsecure/bin:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if job(t, res, "allowed").Result != "success" {
		t.Errorf("allowed job failed\n%s", out)
	}
}

// Trigger.Env (act's --env-file) is under the workflow's env; Trigger.Matrix
// (act's --matrix) keeps the legs with those values; a workflow_dispatch
// payload's inputs are the run's inputs (--event-file).
func TestTriggerEnvMatrixAndPayloadInputs(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on:
  workflow_dispatch:
    inputs:
      who: {type: string, required: true}
      loud: {type: boolean}
env:
  FROM_WORKFLOW: wf
jobs:
  build:
    runs-on: x
    strategy:
      matrix:
        go: ['1.22', '1.23']
        os: [linux, darwin]
    steps:
      - run: echo "leg ${{ matrix.go }}-${{ matrix.os }} $FROM_FILE $FROM_WORKFLOW who=${{ inputs.who }} loud=${{ inputs.loud }}"
        env:
          FROM_WORKFLOW: ${{ env.FROM_WORKFLOW }}
  other:
    runs-on: x
    strategy:
      matrix:
        go: ['1.21']
    steps:
      - run: echo "other ran"
`, run.Trigger{Event: "workflow_dispatch", Env: map[string]string{"FROM_FILE": "file", "FROM_WORKFLOW": "overridden"},
		Matrix:  map[string][]string{"go": {"1.23"}, "os": {"linux"}},
		Payload: map[string]any{"inputs": map[string]any{"who": "ana", "loud": true}}}, run.Options{})
	if !strings.Contains(out, "leg 1.23-linux file wf who=ana loud=true") {
		t.Errorf("output lacks the kept leg with env and inputs\n%s", out)
	}
	var legs []string
	for _, j := range res.Jobs {
		if j.JobID == "build" {
			legs = append(legs, j.Key)
		}
	}
	if len(legs) != 1 {
		t.Errorf("build legs %v, want only (1.23, linux)", legs)
	}
	if got := job(t, res, "other").Result; got != "skipped" || strings.Contains(out, "other ran") {
		t.Errorf("other (no leg matches go=1.23): %s\n%s", got, out)
	}
}

// Step debug logging (ACTIONS_STEP_DEBUG true as a secret or a
// configuration variable, in any case) shows ::debug:: lines and, as on
// GitHub, sets runner.debug to 1 and RUNNER_DEBUG=1 in the steps, which
// core.isDebug() and scripts read; without it both are empty.
func TestStepDebugSetsRunnerDebug(t *testing.T) {
	src := `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "::debug::a debug line"
          echo "context=[${{ runner.debug }}] env=[$RUNNER_DEBUG]"
`
	for _, c := range []struct {
		name  string
		trig  run.Trigger
		opts  run.Options
		debug bool
	}{
		{"off", run.Trigger{}, run.Options{}, false},
		{"secret", run.Trigger{}, run.Options{Secrets: map[string]string{"ACTIONS_STEP_DEBUG": "true"}}, true},
		{"variable", run.Trigger{Vars: map[string]string{"ACTIONS_STEP_DEBUG": "True"}}, run.Options{}, true},
		{"false", run.Trigger{Vars: map[string]string{"ACTIONS_STEP_DEBUG": "false"}}, run.Options{}, false},
	} {
		_, out := runWF(t, context.Background(), src, c.trig, c.opts)
		want, line := "context=[] env=[]\n", false
		if c.debug {
			want, line = "context=[1] env=[1]\n", true
		}
		if !strings.Contains(out, want) || strings.Contains(out, "##[debug]a debug line") != line {
			t.Errorf("%s: want %q, debug line %v\n%s", c.name, want, line, out)
		}
	}
}

// A job without container: or services: has neither in its job context
// (GitHub leaves them out): job.container is null, so the common
// `job.container && 'sh' || 'bash'` picks bash.
func TestJobContextWithoutContainer(t *testing.T) {
	src := `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: echo "shell=${{ job.container && 'sh' || 'bash' }} job=${{ toJSON(job) }}"
`
	_, out := runWF(t, context.Background(), src, run.Trigger{}, run.Options{})
	if !strings.Contains(out, "shell=bash") || strings.Contains(out, "container:") || strings.Contains(out, "services:") || !strings.Contains(out, "status: success") {
		t.Errorf("job context of a job on the host:\n%s", out)
	}
}
