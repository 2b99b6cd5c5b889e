package run_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/actions"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// actionImage pushes the busybox stand-in with an Entrypoint and Cmd of
// its own to a loopback registry: `echo image-entrypoint image-cmd`.
func actionImage(t *testing.T) string {
	t.Helper()
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	addr := ct.Registry(t)
	img := ct.Image(t, ct.Alpine(t), v1.Config{Entrypoint: []string{"/bin/echo", "image-entrypoint"}, Cmd: []string{"image-cmd"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), addr+"/test/action", []string{"1"}); err != nil {
		t.Fatal(err)
	}
	return addr + "/test/action:1"
}

// uses: docker://IMAGE runs the image once: its own entrypoint and Cmd,
// with.args in place of the Cmd (split like a shell line), with.entrypoint
// in place of the entrypoint; with: keys are INPUT_*, GitHub's mounts and
// paths, GITHUB_OUTPUT and GITHUB_ENV reach the job; a failing exit code
// fails the step.
func TestDockerStep(t *testing.T) {
	ref := actionImage(t)
	before := runcState()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  d:
    runs-on: x
    outputs:
      got: ${{ steps.sh.outputs.answer }}
    steps:
      - uses: docker://`+ref+`
      - uses: docker://`+ref+`
        with:
          args: one "two  words" th\"ree 'four'
      - run: |
          cat > script.sh <<'SH'
          echo "who=$INPUT_WHO step=$STEP_ENV pwd=$(pwd) home=$HOME ws=$GITHUB_WORKSPACE event=$GITHUB_EVENT_PATH"
          echo "files=$GITHUB_OUTPUT $GITHUB_ENV temp=$RUNNER_TEMP"
          test -f "$GITHUB_EVENT_PATH" && echo event-readable
          echo made-in-container > made.txt
          echo "::add-mask::s3cr3t-value"
          echo "mask=s3cr3t-value"
          echo "answer=42" >> "$GITHUB_OUTPUT"
          echo "FROM_DOCKER=yes" >> "$GITHUB_ENV"
          SH
      - id: sh
        uses: docker://`+ref+`
        env: {STEP_ENV: from-step}
        with:
          who: world
          entrypoint: /bin/sh
          args: script.sh
      - run: echo "after $FROM_DOCKER $(cat made.txt)"
      - id: fails
        uses: docker://`+ref+`
        with:
          entrypoint: /bin/sh
          args: -c "exit 3"
`, run.Trigger{Event: "push"}, run.Options{})
	j := job(t, res, "d")
	if j.Result != "failure" || j.Outputs["got"] != "42" {
		t.Fatalf("job: %+v\n%s", j, out)
	}
	if s := j.Steps[len(j.Steps)-1]; s.Conclusion != "failure" || !strings.Contains(s.Error, "Docker run failed with exit code 3") {
		t.Errorf("failing step: %+v", s)
	}
	for _, want := range []string{
		"image-entrypoint image-cmd\n",
		"image-entrypoint one two  words th\"ree 'four'\n",
		"who=world step=from-step pwd=/github/workspace home=/github/home ws=/github/workspace event=/github/workflow/event.json",
		"files=/github/file_commands/",
		"temp=/github/runner_temp",
		"event-readable",
		"mask=***",
		"after yes made-in-container",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t-value\n") {
		t.Errorf("masked value shown:\n%s", out)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A Docker container action (runs.using: docker, image: docker://…) gets
// its inputs as INPUT_* and in runs.args expressions, runs.env, its
// entrypoint, and its post-entrypoint at the job's end with the state its
// main saved.
func TestDockerActionFromImage(t *testing.T) {
	ref := actionImage(t)
	src, err := filepath.Abs("testdata/dockeractions/greet/action.yml")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := filepath.Abs("testdata/dockeractions/plain/action.yml")
	if err != nil {
		t.Fatal(err)
	}
	before := runcState()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  d:
    runs-on: x
    steps:
      - run: mkdir -p act && sed 's#IMAGE#`+ref+`#' '`+src+`' > act/action.yml
      - uses: ./act
        with: {who: docker}
      - uses: ./act
        env: {ACTION_ENV: from-step}
        with: {who: again}
      - run: mkdir -p plain && sed 's#IMAGE#`+ref+`#' '`+plain+`' > plain/action.yml
      - uses: ./plain
      - uses: ./plain
        with: {entrypoint: /bin/echo, args: 'plain "a  b"'}
      - run: echo between
`, run.Trigger{Event: "push"}, run.Options{})
	j := job(t, res, "d")
	if j.Result != "success" {
		t.Fatalf("job: %+v\n%s", j, out)
	}
	for _, want := range []string{
		"hello docker env=docker action-env=from-docker state=none",
		"hello docker env=docker action-env=from-docker state=in-main",
		"hello again env=again action-env=from-step state=none", // the step's env over runs.env
		"| image-entrypoint image-cmd\n",                        // no runs.entrypoint/args: the image's
		"| plain a  b\n",                                        // … or with.entrypoint and with.args
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if post := stepNamed(t, j, "Post ./act"); len(post) != 2 || j.Steps[len(j.Steps)-1] != post[1] {
		t.Errorf("post step: %+v", j.Steps)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A docker:// step that outlives its timeout, or runs when the run is
// cancelled, is stopped and leaves no container, mount or process.
func TestDockerStepTimeoutAndCancel(t *testing.T) {
	ref := actionImage(t)
	before := runcState()
	long := strconv.Itoa(200000 + os.Getpid())
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  d:
    runs-on: x
    steps:
      - timeout-minutes: 0.02
        uses: docker://`+ref+`
        with: {entrypoint: /bin/sleep, args: '`+long+`'}
`, run.Trigger{Event: "push"}, run.Options{})
	if j := job(t, res, "d"); j.Result != "failure" {
		t.Errorf("timeout: %+v\n%s", j, out)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind after timeout: %v", left)
	}
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if m, _ := filepath.Glob(filepath.Join(state, "runs", "*", "jobs", "*", "workspace", "started")); len(m) > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	res, out = runWF(t, ctx, `
on: push
jobs:
  d:
    runs-on: x
    steps:
      - uses: docker://`+ref+`
        with: {entrypoint: /bin/sh, args: '-c "touch started; exec sleep `+long+`"'}
`, run.Trigger{Event: "push"}, run.Options{StateDir: state})
	if r := res.Jobs[0]; r.Result != "cancelled" {
		t.Errorf("cancelled: %+v\n%s", r, out)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind after cancel: %v", left)
	}
	if b, _ := exec.Command("pgrep", "-f", "sleep "+long+"$").Output(); len(b) > 0 {
		t.Errorf("sleep processes left: %s", b)
	}
}

// A Docker action with image: Dockerfile is built with BuildKit (FROM the
// alpine stand-in through the registry mirror) once: a second use, and a
// second run on the same state dir, reuse the image; a change to the
// action's files builds it again.
func TestDockerActionFromDockerfile(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd, ct.Busybox)
	t.Setenv("RUNNER_BUILDKITD", ct.BuildkitdPath())
	t.Setenv("BUILDKIT_HOST", "")
	reg := ct.Registry(t)
	src, err := filepath.Abs("testdata/dockeractions/built")
	if err != nil {
		t.Fatal(err)
	}
	before := runcState()
	state := t.TempDir()
	opts := run.Options{StateDir: state, Settings: steps.Settings{RegistryMirror: "docker.io=http://" + reg}}
	wf := `
on: push
jobs:
  d:
    runs-on: x
    outputs:
      greeting: ${{ steps.a.outputs.greeting }}
    steps:
      - run: cp -r '` + src + `' act
      - id: a
        uses: ./act
        with: {who: first}
      - uses: ./act
        with: {who: second}
`
	res, out := runWF(t, context.Background(), wf, run.Trigger{Event: "push"}, opts)
	j := job(t, res, "d")
	if j.Result != "success" || j.Outputs["greeting"] != "hi first" {
		t.Fatalf("job: %+v\n%s", j, out)
	}
	for _, want := range []string{
		"built-action v1 arg=first input=first pwd=/github/workspace",
		"built-action v1 arg=second input=second",
		"Image of Dockerfile built before",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "built Dockerfile ("); n != 1 {
		t.Errorf("built %d times, want once:\n%s", n, out)
	}

	res, out = runWF(t, context.Background(), wf, run.Trigger{Event: "push"}, opts)
	if j := job(t, res, "d"); j.Result != "success" || strings.Contains(out, "built Dockerfile (") {
		t.Errorf("second run built again: %+v\n%s", j, out)
	}

	changed := strings.Replace(wf, "cp -r '"+src+"' act", "cp -r '"+src+"' act && sed -i s/v1/v2/ act/entry.sh", 1)
	res, out = runWF(t, context.Background(), changed, run.Trigger{Event: "push"}, opts)
	if j := job(t, res, "d"); j.Result != "success" || !strings.Contains(out, "built-action v2 arg=first") || strings.Count(out, "built Dockerfile (") != 1 {
		t.Errorf("changed action: %+v\n%s", j, out)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// In a job with container:, a docker:// step runs in a container of its
// own next to the job's (as GitHub runs it), on the same workspace and
// file-command files.
func TestDockerStepInContainerJob(t *testing.T) {
	jobRef, ref := jobImage(t), actionImage(t)
	before := runcState()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  c:
    runs-on: x
    container: `+jobRef+`
    steps:
      - run: echo "from-job $(cat /etc/marker)" > shared.txt
      - id: a
        uses: docker://`+ref+`
        with:
          entrypoint: /bin/sh
          args: >-
            -c "echo \"action sees: $(cat shared.txt) marker=$(cat /etc/marker 2>/dev/null || echo none)\";
            echo from-action > back.txt; echo x=1 >> $GITHUB_OUTPUT"
      - run: echo "job sees $(cat back.txt) x=${{ steps.a.outputs.x }}"
`, run.Trigger{Event: "push"}, run.Options{})
	if j := job(t, res, "c"); j.Result != "success" {
		t.Fatalf("job: %+v\n%s", j, out)
	}
	for _, want := range []string{
		"action sees: from-job marker of the job image marker=none",
		"job sees from-action x=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A remote Docker action's pre-entrypoint runs before the job's first step
// and its post-entrypoint at the job's end (under post-if), with the same
// args; the state each stage saves reaches the next.
func TestDockerActionPreAndPost(t *testing.T) {
	ref := actionImage(t)
	src := t.TempDir()
	dir := filepath.Join(src, "acme", "dprepost")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	yml := `name: dprepost
inputs:
  who: {default: nobody}
runs:
  using: docker
  image: docker://` + ref + `
  pre-entrypoint: /bin/sh
  entrypoint: /bin/sh
  post-entrypoint: /bin/sh
  post-if: success()
  args:
    - -c
    - 'echo "stage who=$INPUT_WHO state=${STATE_n:-0}"; echo "n=$(( ${STATE_n:-0} + 1 ))" >> "$GITHUB_STATE"'
`
	if err := os.WriteFile(filepath.Join(dir, "action.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: echo first-step
      - uses: acme/dprepost@v1
        with: {who: ana}
`, run.Trigger{}, run.Options{Actions: &actions.Resolver{StateDir: t.TempDir(), Source: actions.Source{Dir: src}}})
	j := job(t, res, "a")
	if j.Result != "success" {
		t.Fatalf("job: %+v\n%s", j, out)
	}
	var names []string
	for _, s := range j.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ", "); !strings.HasPrefix(got, "Pre acme/dprepost@v1, ") || !strings.HasSuffix(got, ", Post acme/dprepost@v1") {
		t.Errorf("steps: %s", got)
	}
	i0, i1, i2, first := strings.Index(out, "stage who=ana state=0"), strings.Index(out, "stage who=ana state=1"), strings.Index(out, "stage who=ana state=2"), strings.Index(out, "| first-step")
	if i0 < 0 || i1 < 0 || i2 < 0 || !(i0 < first && first < i1 && i1 < i2) {
		t.Errorf("stages out of order or missing:\n%s", out)
	}
}

// A Dockerfile that is not in the action (missing, or a path leaving the
// action's directory) fails the step naming action.yml's line and column,
// before any build; an image that does not exist fails its step saying
// so, an entrypoint the image lacks fails with runc's reason; nothing
// is left behind.
func TestDockerActionBadImage(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	addr := ct.Registry(t)
	before := runcState()
	state := t.TempDir()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  missing:
    runs-on: x
    steps:
      - run: |
          mkdir act
          printf 'name: m\ndescription: d\nruns:\n  using: docker\n  image: Dockerfile.nope\n' > act/action.yml
      - uses: ./act
  escapes:
    runs-on: x
    steps:
      - run: |
          mkdir act && echo 'FROM alpine' > Dockerfile
          printf 'name: m\ndescription: d\nruns:\n  using: docker\n  image: ../Dockerfile\n' > act/action.yml
      - uses: ./act
  noimage:
    runs-on: x
    steps:
      - uses: docker://`+addr+`/no/such:image
  noentry:
    runs-on: x
    steps:
      - uses: docker://`+addr+`/library/alpine:latest
        with: {entrypoint: /no/such/entrypoint}
`, run.Trigger{Event: "push"}, run.Options{StateDir: state})
	if !strings.Contains(out, "stat /no/such/entrypoint: no such file or directory") {
		t.Errorf("the missing entrypoint is not named:\n%s", out)
	}
	for key, want := range map[string]string{
		"missing": "action.yml:5:10: runs.image: Dockerfile.nope is not a file in the action",
		"escapes": "action.yml:5:10: runs.image: ../Dockerfile is not a file in the action",
		"noimage": "docker://" + addr + "/no/such:image: ",
		"noentry": "Docker run failed with exit code",
	} {
		j := job(t, res, key)
		if s := j.Steps[len(j.Steps)-1]; j.Result != "failure" || !strings.Contains(s.Error, want) {
			t.Errorf("%s: want an error with %q, got %+v\n%s", key, want, s, out)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "docker-actions")); err == nil {
		if ents, _ := os.ReadDir(filepath.Join(state, "docker-actions")); len(ents) > 0 {
			t.Errorf("docker-actions holds %v after failed builds", ents)
		}
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
