package run_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/testenv"
	"github.com/birdflock/runner/pkg/workflow"
)

func runWF(t *testing.T, ctx context.Context, src string, trig run.Trigger, opts run.Options) (*run.Result, string) {
	t.Helper()
	builtins := steps.Default()
	w, errs := workflow.Load("test.yaml", []byte(src), workflow.Options{Builtins: builtins})
	if len(errs) > 0 {
		t.Fatalf("invalid workflow:\n%v", errs)
	}
	out := &testenv.Buffer{}
	opts.Out = out
	opts.Builtins = builtins
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if opts.InterruptGrace == 0 {
		opts.InterruptGrace = 500 * time.Millisecond
	}
	if opts.KillGrace == 0 {
		opts.KillGrace = 500 * time.Millisecond
	}
	plan, err := run.NewPlan(w, trig)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	res, err := run.Run(ctx, plan, opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res, out.String()
}

func job(t *testing.T, res *run.Result, key string) *run.JobResult {
	t.Helper()
	for _, j := range res.Jobs {
		if j.Key == key {
			return j
		}
	}
	t.Fatalf("no job %q in %+v", key, res.Jobs)
	return nil
}

func TestEnvOutputsAndNeeds(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
env:
  LAYER: workflow
  WF: w
jobs:
  first:
    runs-on: x
    env:
      LAYER: job
    outputs:
      greeting: ${{ steps.say.outputs.greeting }}
      multi: ${{ steps.say.outputs.multi }}
    steps:
      - id: say
        env:
          LAYER: step
        run: |
          echo "layer=$LAYER wf=$WF ci=$CI actions=$GITHUB_ACTIONS"
          echo "greeting=hello" >> "$GITHUB_OUTPUT"
          { echo "multi<<EOF"; echo "line 1"; echo "line 2"; echo "EOF"; } >> "$GITHUB_OUTPUT"
          echo "FROM_ENV_FILE=yes" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin" && printf '#!/bin/sh\necho tool-ran\n' > "$RUNNER_TEMP/bin/mytool" && chmod +x "$RUNNER_TEMP/bin/mytool"
          printf '#!/bin/sh\necho shell-from-path\nexec sh "$1"\n' > "$RUNNER_TEMP/bin/myshell" && chmod +x "$RUNNER_TEMP/bin/myshell"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
      - run: |
          echo "next layer=$LAYER env-file=$FROM_ENV_FILE out=${{ steps.say.outputs.greeting }} ctx=${{ env.FROM_ENV_FILE }}"
          mytool
      - shell: myshell {0}
        run: echo ran-in-custom-shell
      - id: late
        run: echo "v=late-output" >> "$GITHUB_OUTPUT"
      - run: echo "late=${{ steps.late.outputs.v }}"
  second:
    needs: first
    runs-on: x
    steps:
      - run: |
          echo "got ${{ needs.first.outputs.greeting }} result=${{ needs.first.result }}"
          echo "${{ needs.first.outputs.multi }}" | wc -l
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	for _, want := range []string{
		"layer=step wf=w ci=true actions=true",
		"next layer=job env-file=yes out=hello ctx=yes",
		"tool-ran",
		"shell-from-path",
		"ran-in-custom-shell",
		"late=late-output",
		"got hello result=success",
		"| 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if got := job(t, res, "first").Outputs["multi"]; got != "line 1\nline 2" {
		t.Errorf("multi-line output = %q", got)
	}
}

func TestStatusFunctionsAndSkips(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - id: bad
        run: exit 3
        continue-on-error: true
      - run: echo "after tolerated failure outcome=${{ steps.bad.outcome }} conclusion=${{ steps.bad.conclusion }}"
      - id: fatal
        run: "false"
      - run: echo should-not-run
      - if: failure()
        run: echo "failure-handler ${{ job.status }}"
      - if: always()
        run: echo always-ran
      - if: success()
        run: echo success-skipped
  b:
    needs: a
    runs-on: x
    steps: [{run: echo b-ran}]
  c:
    needs: b
    if: always()
    runs-on: x
    steps: [{run: "echo c-ran ${{ needs.b.result }}"}]
  d:
    needs: b
    if: failure()
    runs-on: x
    steps: [{run: echo d-ran}]
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "failure" {
		t.Fatalf("conclusion %s", res.Conclusion)
	}
	for _, want := range []string{"after tolerated failure outcome=failure conclusion=success", "failure-handler failure", "always-ran", "c-ran skipped", "d-ran"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	for _, bad := range []string{"should-not-run", "success-skipped", "b-ran"} {
		if strings.Contains(out, bad) {
			t.Errorf("output has %q\n%s", bad, out)
		}
	}
	a := job(t, res, "a")
	if a.Result != "failure" || a.Steps[0].Outcome != "failure" || a.Steps[0].Conclusion != "success" || a.Steps[3].Conclusion != "skipped" {
		t.Errorf("job a: %+v", a)
	}
	if job(t, res, "b").Result != "skipped" || job(t, res, "c").Result != "success" {
		t.Errorf("b or c: %+v", res.Jobs)
	}
}

func TestMatrixAndFailFast(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  m:
    runs-on: x
    strategy:
      matrix:
        n: [1, 2, 3]
        include:
          - n: 2
            label: two
    steps:
      - run: echo "leg ${{ matrix.n }} ${{ matrix.label }} of ${{ strategy.job-total }}"
  ff:
    runs-on: x
    strategy:
      matrix:
        n: [fast, slow]
    steps:
      - run: |
          if [ "${{ matrix.n }}" = fast ]; then exit 1; fi
          sleep 20
`, run.Trigger{}, run.Options{Parallel: 4})
	for _, want := range []string{"leg 1  of 3", "leg 2 two of 3", "leg 3  of 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if job(t, res, "ff (fast)").Result != "failure" || job(t, res, "ff (slow)").Result != "cancelled" {
		t.Errorf("fail-fast: %+v %+v", job(t, res, "ff (fast)"), job(t, res, "ff (slow)"))
	}
}

func TestSecretsMasked(t *testing.T) {
	state := t.TempDir()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "token is ${{ secrets.TOKEN }}"
          echo "multi: $MULTI"
          echo "::add-mask::runtime-value-42"
          echo "later runtime-value-42"
        env:
          MULTI: ${{ secrets.KEY }}
      - run: echo "${{ secrets.TOKEN }}" && exit 1
`, run.Trigger{}, run.Options{StateDir: state, Secrets: map[string]string{"TOKEN": "s3cr3t-t0ken", "KEY": "first-line\nsecond-line"}})
	var all bytes.Buffer
	all.WriteString(out)
	filepath.Walk(res.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			all.Write(data)
		}
		return nil
	})
	for _, secret := range []string{"s3cr3t-t0ken", "first-line", "second-line", "runtime-value-42"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("secret %q leaked:\n%s", secret, all.String())
		}
	}
	if !strings.Contains(out, "token is ***") || !strings.Contains(out, "later ***") {
		t.Errorf("masked lines missing:\n%s", out)
	}
}

func TestStepTimeoutKillsProcessGroup(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "pid")
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          sleep 300 &
          echo $! > `+marker+`
          sleep 300
        timeout-minutes: 0.01
`, run.Trigger{}, run.Options{})
	a := job(t, res, "a")
	if a.Result != "failure" || !strings.Contains(a.Steps[0].Error, "timeout") {
		t.Fatalf("want a timeout failure, got %+v\n%s", a.Steps[0], out)
	}
	assertDead(t, marker)
}

func assertDead(t *testing.T, pidFile string) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(data)) {
		pid = pid*10 + int(c-'0')
	}
	// The child may be a zombie of init for a moment; give it time to go.
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(data)) + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d survived", pid)
}

func TestCancelRunsAlwaysStepsAndKillsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for i := 0; i < 500; i++ {
			if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	res, out := runWF(t, ctx, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          (trap '' TERM; sleep 300) &
          echo $! > `+dir+`/bg
          touch `+dir+`/started
          sleep 300
      - run: echo not-after-cancel
      - if: cancelled()
        run: echo cleanup-ran
      - if: always()
        run: echo always-ran
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "cancelled" {
		t.Errorf("conclusion %s", res.Conclusion)
	}
	for _, want := range []string{"cleanup-ran", "always-ran"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "not-after-cancel") {
		t.Errorf("a normal step ran after cancellation\n%s", out)
	}
	assertDead(t, dir+"/bg")
	if _, err := os.Stat(filepath.Join(res.Dir, "jobs", "a", "temp")); !os.IsNotExist(err) {
		t.Errorf("job temp dir left behind: %v", err)
	}
}

func TestBackgroundProcessEndsWithJob(t *testing.T) {
	dir := t.TempDir()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          setsid sleep 300 > /dev/null 2>&1 &
          sleep 0.2
          pgrep -n -f "sleep 300" > `+dir+`/bg
      - run: echo later step sees server
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("%s\n%s", res.Conclusion, out)
	}
	assertDead(t, dir+"/bg")
}

func TestArtifactsBetweenJobs(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  build:
    runs-on: x
    steps:
      - run: mkdir -p dist/sub && echo app > dist/app.txt && echo x > dist/sub/x.txt && echo no > dist/skip.map
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: |
            dist
            !dist/*.map
  use:
    needs: build
    runs-on: x
    steps:
      - id: dl
        uses: actions/download-artifact@v4
        with:
          name: dist
          path: out
      - run: |
          cat out/app.txt out/sub/x.txt
          test ! -e out/skip.map
          echo "path=${{ steps.dl.outputs.download-path }}"
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("%s\n%s", res.Conclusion, out)
	}
	if !strings.Contains(out, "| app") || !strings.Contains(out, "/out") {
		t.Errorf("artifact content missing\n%s", out)
	}
}

func TestDispatchInputs(t *testing.T) {
	src := `
on:
  workflow_dispatch:
    inputs:
      name: {required: true}
      loud: {type: boolean, default: false}
      level: {type: choice, options: [low, high], default: low}
      n: {type: number, default: 2}
jobs:
  a:
    runs-on: x
    steps:
      - run: echo "hi ${{ inputs.name }} loud=${{ inputs.loud }} ${{ inputs.loud == false }} level=${{ inputs.level }} n+1=${{ inputs.n == 2 }} ev=${{ github.event.inputs.name }}"
`
	_, out := runWF(t, context.Background(), src, run.Trigger{Event: "workflow_dispatch", Inputs: map[string]string{"name": "ana"}, Payload: map[string]any{"inputs": map[string]any{"name": "ana"}}}, run.Options{})
	if !strings.Contains(out, "hi ana loud=false true level=low n+1=true ev=ana") {
		t.Errorf("inputs not typed as expected\n%s", out)
	}
	w, _ := workflow.Load("t.yaml", []byte(src), workflow.Options{})
	for _, bad := range []map[string]string{{}, {"name": "x", "level": "mid"}, {"name": "x", "loud": "yes"}, {"name": "x", "other": "1"}} {
		if _, err := run.NewPlan(w, run.Trigger{Event: "workflow_dispatch", Inputs: bad}); !errors.Is(err, run.ErrInputs) {
			t.Errorf("inputs %v: %v, want ErrInputs", bad, err)
		}
	}
}

func TestParallelJobs(t *testing.T) {
	// Each job waits until all n have started: only a concurrent run can
	// finish, a sequential one hits the job timeout.
	src := func(dir string, n int, timeout string) string {
		s := "on: push\njobs:\n"
		for i := 0; i < n; i++ {
			id := string(rune('a' + i))
			s += "  " + id + ":\n    runs-on: x\n    timeout-minutes: " + timeout + "\n    steps:\n      - run: |\n          touch " + dir + "/" + id + "\n" +
				"          while [ $(ls " + dir + " | wc -l) -lt " + string(rune('0'+n)) + " ]; do sleep 0.05; done\n"
		}
		return s
	}
	res, out := runWF(t, context.Background(), src(t.TempDir(), 4, "0.5"), run.Trigger{}, run.Options{Parallel: 4})
	if res.Conclusion != "success" {
		t.Fatalf("jobs did not run at the same time: %s\n%s", res.Conclusion, out)
	}
	res, _ = runWF(t, context.Background(), src(t.TempDir(), 2, "0.02"), run.Trigger{}, run.Options{Parallel: 1})
	if res.Conclusion != "failure" {
		t.Fatalf("Parallel: 1 ran jobs concurrently: %s", res.Conclusion)
	}
}

func TestWorkflowCommands(t *testing.T) {
	_, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "::group::Setup"
          echo "::endgroup::"
          echo "::error file=app.go,line=3,col=7,title=Bad::it broke"
          echo "::warning::careful"
          echo "::stop-commands::pause123"
          echo "::error::not a command now"
          echo "::pause123::"
          echo "::notice::back"
          echo "no newline at end" | tr -d '\n'
`, run.Trigger{}, run.Options{})
	for _, want := range []string{"▸ Setup", "Error: app.go:3:7: Bad: it broke", "Warning: careful", "::error::not a command now", "Notice: back", "no newline at end"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// Everything a step prints before it exits reaches the log, and a
// background child that keeps stdout open does not hold the step.
func TestOutputCompleteAndNotHeldByBackground(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          for i in $(seq 1 20000); do echo "line $i"; done
          echo last-line
      - run: |
          sleep 300 &
          echo started-background
      - run: echo next-step
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("%s\n%s", res.Conclusion, out)
	}
	for _, want := range []string{"| line 1\n", "| line 19999\n", "| last-line\n", "started-background", "next-step"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(out, "| line "); n != 20000 {
		t.Errorf("%d of 20000 lines arrived", n)
	}
}

// Reused jobs do not run; dependents see their outputs.
func TestReuse(t *testing.T) {
	src := `on: push
jobs:
  a:
    runs-on: x
    outputs:
      v: ${{ steps.s.outputs.v }}
    steps:
      - id: s
        run: echo ran-a; echo v=fresh >> "$GITHUB_OUTPUT"
  b:
    needs: a
    runs-on: x
    steps:
      - run: echo "got ${{ needs.a.outputs.v }}"
`
	res, out := runWF(t, context.Background(), src, run.Trigger{}, run.Options{Reuse: map[string]run.Reused{"a": {Result: "success", Outputs: map[string]string{"v": "old"}}}})
	if res.Conclusion != "success" || strings.Contains(out, "ran-a") || !strings.Contains(out, "got old") {
		t.Fatalf("conclusion %s, output:\n%s", res.Conclusion, out)
	}
}

// A step's ::endgroup:: is an event of its own (GroupEnded), after the
// group's lines and before the next: what ends a folded group in serve's
// log views.
func TestEndGroupEvent(t *testing.T) {
	var seen []string
	obs := run.ObserverFunc(func(e run.Event) {
		switch e.Kind {
		case run.Line:
			if e.Step != "" {
				seen = append(seen, e.Text)
			}
		case run.GroupEnded:
			seen = append(seen, "<end of group in "+e.Step+">")
		}
	})
	runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - name: deps
        run: |
          echo "::group::Fetch"
          echo inside
          echo "::endgroup::"
          echo outside
`, run.Trigger{}, run.Options{Observer: obs})
	want := "▸ Fetch|inside|<end of group in deps>|outside"
	if got := strings.Join(seen, "|"); !strings.Contains(got, want) {
		t.Errorf("step events %q, want %q in them", got, want)
	}
}
