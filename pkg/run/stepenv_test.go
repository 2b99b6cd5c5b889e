package run_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// A step's env: is evaluated before its if: and its name, as in GitHub's
// StepsRunner: the condition and the name see it in the env context. An
// env: that fails to evaluate fails the step even when its if: is false:
// GitHub never gets to the condition.
func TestStepEnvBeforeIf(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - name: named-${{ env.X }}
        env: {X: '1'}
        if: env.X == '1'
        run: echo "env-if ran X=$X"
      - env: {Y: "${{ fromJSON(github.event_name) }}"}
        if: false
        run: echo never
      - if: always()
        run: echo after
`, run.Trigger{}, run.Options{})
	j := job(t, res, "a")
	if len(j.Steps) != 3 {
		t.Fatalf("steps %+v\n%s", j.Steps, out)
	}
	if s := j.Steps[0]; s.Conclusion != "success" || s.Name != "named-1" || !strings.Contains(out, "env-if ran X=1") {
		t.Errorf("step with env: X and if: env.X == '1': %+v\n%s", s, out)
	}
	if s := j.Steps[1]; s.Conclusion != "failure" || !strings.HasPrefix(s.Error, "test.yaml:11:") {
		t.Errorf("step whose env: fails and whose if: is false: %+v, want failure at test.yaml:11\n%s", s, out)
	}
	if j.Result != "failure" || strings.Contains(out, "| never") || !strings.Contains(out, "| after") {
		t.Errorf("job %s\n%s", j.Result, out)
	}
}

// GITHUB_ENV and the workflow's and job's env: are one layer on GitHub
// (the runner's Global.EnvironmentVariables: the job's env: is written
// there at job start, each GITHUB_ENV line after a step): a later step sees
// the value written last, in its process and in ${{ env }} alike; only a
// step's own env: wins over both, for that step.
func TestGitHubEnvOverridesWorkflowAndJobEnv(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
env: {W: workflow, BOTH: workflow}
jobs:
  a:
    runs-on: x
    env: {J: job, BOTH: job}
    steps:
      - run: |
          echo "W=from-file" >> "$GITHUB_ENV"
          echo "J=from-file" >> "$GITHUB_ENV"
          echo "N=new" >> "$GITHUB_ENV"
      - run: echo "proc W=$W J=$J BOTH=$BOTH N=$N ctx W=${{ env.W }} J=${{ env.J }} BOTH=${{ env.BOTH }} N=${{ env.N }}"
      - env: {J: step}
        if: env.J == 'step'
        run: echo "step-env J=$J ctx=${{ env.J }}"
      - run: echo "J=again" >> "$GITHUB_ENV"
      - run: echo "later J=$J ctx=${{ env.J }}"
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	wantLines(t, out,
		"proc W=from-file J=from-file BOTH=job N=new ctx W=from-file J=from-file BOTH=job N=new",
		"step-env J=step ctx=step",
		"later J=again ctx=again",
	)
}

// Inside a composite action, a GITHUB_ENV line reaches the later inner
// steps also for a name the job already had (actions/runner#789, fixed by
// #1794: only the calling step's own env: is laid over the job's env in
// each inner step, not a copy of the whole env taken when the action
// started). A name in the calling step's env: keeps its value inside the
// action; the job's later steps get the GITHUB_ENV value.
func TestCompositeGitHubEnvReachesLaterInnerSteps(t *testing.T) {
	res, out := runWithActions(t, map[string]string{
		"act/action.yml": `
runs:
  using: composite
  steps:
    - shell: bash
      run: |
        echo "inner-first X=$X Y=$Y"
        echo "X=inner" >> "$GITHUB_ENV"
        echo "Y=inner" >> "$GITHUB_ENV"
    - shell: bash
      if: env.X == 'inner'
      run: echo "inner-second X=$X ctx=${{ env.X }} Y=$Y ctxY=${{ env.Y }}"
`,
	}, `
on: push
env: {X: workflow}
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./act
        env: {Y: caller}
      - run: echo "job-after X=$X Y=$Y"
`, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	wantLines(t, out,
		"inner-first X=workflow Y=caller",
		"inner-second X=inner ctx=inner Y=caller ctxY=caller",
		"job-after X=inner Y=inner",
	)
}

// RUNNER_TOOL_CACHE (runner.tool_cache) exists when the steps run: the
// state's by default, Options.ToolCache when set.
func TestToolCacheExists(t *testing.T) {
	src := "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: test -d \"$RUNNER_TOOL_CACHE\" && echo \"tools at ${{ runner.tool_cache }}\"\n"
	state := t.TempDir()
	res, out := runWF(t, context.Background(), src, run.Trigger{}, run.Options{StateDir: state})
	if job(t, res, "a").Result != "success" || !strings.Contains(out, "tools at "+filepath.Join(state, "toolcache")) {
		t.Errorf("the default tool cache: %s\n%s", job(t, res, "a").Result, out)
	}
	tools := filepath.Join(t.TempDir(), "opt", "hostedtoolcache")
	res, out = runWF(t, context.Background(), src, run.Trigger{}, run.Options{ToolCache: tools})
	if job(t, res, "a").Result != "success" || !strings.Contains(out, "tools at "+tools) {
		t.Errorf("Options.ToolCache: %s\n%s", job(t, res, "a").Result, out)
	}
}
