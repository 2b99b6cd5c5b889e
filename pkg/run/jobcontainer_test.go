package run_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/testenv"
)

// jobImage pushes the alpine stand-in (busybox: sh, no bash) with a
// marker file to a registry on loopback and returns its reference.
func jobImage(t *testing.T, extra ...v1.Layer) string {
	t.Helper()
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	addr := ct.Registry(t)
	layers := append([]v1.Layer{ct.Layer(t,
		ct.Entry{Name: "etc/marker", Body: "marker of the job image\n"},
		ct.Entry{Name: "srv/"},
	)}, extra...)
	img := ct.Image(t, ct.Alpine(t), v1.Config{Env: []string{"IMAGE_ENV=from-image"}}, layers...)
	ref := addr + "/test/job:1"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), addr+"/test/job", []string{"1"}); err != nil {
		t.Fatal(err)
	}
	return ref
}

// runcLeftovers lists the job containers of this test process (their
// bundle's owner file names it) that runc still knows and the overlays
// still mounted; other runners on the machine are not looked at.
func runcLeftovers(t *testing.T, before string) []string {
	t.Helper()
	mine := func(bundle string) bool {
		b, err := os.ReadFile(filepath.Join(bundle, "owner"))
		return err == nil && strings.HasPrefix(string(b), strconv.Itoa(os.Getpid())+" ")
	}
	var out []string
	var list []struct{ ID, Bundle string }
	b, _ := exec.Command(ct.RuncPath(), "list", "--format", "json").Output()
	_ = json.Unmarshal(b, &list)
	for _, c := range list {
		if strings.HasPrefix(c.ID, "runner-") && !strings.Contains(before, c.ID) && mine(c.Bundle) {
			out = append(out, "runc container "+c.ID)
		}
	}
	b, _ = os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.Contains(line, " overlay ") && strings.HasSuffix(f[4], "/rootfs") && mine(filepath.Dir(f[4])) {
			out = append(out, "mount "+f[4])
		}
	}
	return out
}

func runcState() string {
	list, _ := exec.Command(ct.RuncPath(), "list", "-q").Output()
	return string(list)
}

// run: steps of a container job run in the image (its files, its env,
// sh since it has no bash), see GitHub's paths, share the workspace with
// built-in steps in both directions, and GITHUB_ENV / GITHUB_OUTPUT work.
func TestContainerJobRunsStepsInTheImage(t *testing.T) {
	ref := jobImage(t)
	before := runcState()
	state := t.TempDir()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  c:
    runs-on: x
    container:
      image: `+ref+`
      env: {CONTAINER_ENV: from-container-env}
      options: --hostname boxy -e OPT_ENV=from-options --workdir /srv
    outputs:
      got: ${{ steps.first.outputs.answer }}
    steps:
      - id: first
        run: |
          cat /etc/marker
          echo "bash=${BASH_VERSION:-none}"
          echo "job.container=${{ job.container.id }} ${{ job.container.network }} host-name=$(hostname)"
          echo "ws=$GITHUB_WORKSPACE temp=$RUNNER_TEMP home=$HOME tools=$RUNNER_TOOL_CACHE event=$GITHUB_EVENT_PATH"
          echo "env=$IMAGE_ENV $CONTAINER_ENV $OPT_ENV host=$(hostname)"
          echo "pwd=$(pwd) init-cwd=$(readlink /proc/1/cwd)"
          test -f "$GITHUB_EVENT_PATH" && echo event-readable
          mkdir -p templates
          echo 'greeting: {{ GREETING }}' > templates/greet.yaml.j2
          echo "FROM_FILE=set-in-container" >> "$GITHUB_ENV"
          echo "answer=42" >> "$GITHUB_OUTPUT"
      - uses: render-templates
        with:
          templates: templates/*.j2
          output: rendered
          vars: GREETING=hello-from-host
      - run: |
          cat rendered/greet.yaml
          echo "from-file=$FROM_FILE"
      - working-directory: /srv
        run: echo "abs-pwd=$(pwd)"
`, run.Trigger{Event: "push"}, run.Options{StateDir: state})
	if r := job(t, res, "c"); r.Result != "success" || r.Outputs["got"] != "42" {
		t.Fatalf("job: %+v\n%s", r, out)
	}
	for _, want := range []string{
		"marker of the job image",
		"bash=none",
		"job.container=runner-",
		" host host-name=boxy",
		"ws=/__w/workspace/workspace temp=/__w/_temp home=/github/home tools=/__t event=/github/workflow/event.json",
		"env=from-image from-container-env from-options host=boxy",
		"pwd=/__w/workspace/workspace init-cwd=/srv",
		"event-readable",
		"greeting: hello-from-host",
		"from-file=set-in-container",
		"abs-pwd=/srv",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if id := regexp.MustCompile(`job.container=(runner-[0-9a-f]+)`).FindStringSubmatch(out); id == nil || !strings.Contains(out, "Container "+id[1]+" started") {
		t.Errorf("job.container.id is not the container's:\n%s", out)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	ents, _ := os.ReadDir(filepath.Join(state, "images"))
	if len(ents) != 2 { // one unpacked copy and its lock
		t.Errorf("image cache: %v", ents)
	}
}

// --user runs every step as that user, who may write the workspace and
// the file-command files.
func TestContainerJobUserOption(t *testing.T) {
	ref := jobImage(t)
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  c:
    runs-on: x
    container:
      image: `+ref+`
      options: --user 1000:1001
    steps:
      - run: |
          echo "ids=$(id -u):$(id -g)"
          echo written > in-workspace.txt
          echo "AS_USER=yes" >> "$GITHUB_ENV"
      - run: echo "as-user=$AS_USER $(cat in-workspace.txt)"
`, run.Trigger{Event: "push"}, run.Options{})
	if r := job(t, res, "c"); r.Result != "success" {
		t.Fatalf("job: %+v\n%s", r, out)
	}
	for _, want := range []string{"ids=1000:1001", "as-user=yes written"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// Two jobs of one run with the same image share one unpacked copy; an
// image that evaluates to "" runs the job on the host.
func TestContainerJobsShareTheUnpackedImage(t *testing.T) {
	ref := jobImage(t)
	state := t.TempDir()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    container: `+ref+`
    steps: [{run: cat /etc/marker}]
  b:
    runs-on: x
    container: {image: `+ref+`}
    steps: [{run: cat /etc/marker}]
  host:
    runs-on: x
    strategy: {matrix: {img: ['']}}
    container: ${{ matrix.img }}
    steps: [{run: 'test ! -f /etc/marker && echo on-the-host'}]
`, run.Trigger{Event: "push"}, run.Options{StateDir: state, Parallel: 3})
	for _, k := range []string{"a", "b", "host ()"} {
		if r := job(t, res, k); r.Result != "success" {
			t.Fatalf("job %s: %+v\n%s", k, r, out)
		}
	}
	if n := strings.Count(out, "marker of the job image"); n != 2 || !strings.Contains(out, "on-the-host") {
		t.Errorf("want the marker twice and the host job:\n%s", out)
	}
	if u, c := strings.Count(out, ", unpacked)"), strings.Count(out, ", cached)"); u != 1 || c != 1 {
		t.Errorf("want one unpack and one cache hit, got %d and %d:\n%s", u, c, out)
	}
	if ents, _ := os.ReadDir(filepath.Join(state, "images")); len(ents) != 2 {
		t.Errorf("image cache: %v", ents)
	}
}

// An option that an expression makes unsupported fails the job, naming
// the option and where the options are.
func TestContainerJobBadOptionAtRunTime(t *testing.T) {
	ref := jobImage(t)
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  c:
    runs-on: x
    strategy: {matrix: {opt: ['--privileged']}}
    container:
      image: `+ref+`
      options: ${{ matrix.opt }}
    steps: [{run: echo never}]
`, run.Trigger{Event: "push"}, run.Options{})
	r := res.Jobs[0]
	if r.Result != "failure" || !strings.Contains(r.Error, "test.yaml:9:16: container.options: option --privileged is not supported") {
		t.Fatalf("job: %+v\n%s", r, out)
	}
	if strings.Contains(out, "never") {
		t.Error("a step ran")
	}
}

// agentLibs is what the job image needs for the test binary, as runner's
// agent, to run in it: nothing for a static binary (CGO_ENABLED=0, as
// runner is built), else the C library it is linked against.
func agentLibs(t *testing.T) []v1.Layer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if container.ELFInterpreter(exe) == "" {
		return nil
	}
	return []v1.Layer{glibcLayer(t, exe)}
}

// A failing step, a step's timeout and a cancelled run all end with the
// container gone; a timeout kills the step's processes in the container,
// its background children too. The steps start through runner's agent
// in the container.
func TestContainerJobCleanup(t *testing.T) {
	ref := jobImage(t, agentLibs(t)...)
	before := runcState()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  fails:
    runs-on: x
    container: `+ref+`
    steps:
      - run: exit 3
  times-out:
    runs-on: x
    container: `+ref+`
    steps:
      - timeout-minutes: 0.02
        run: |
          sleep 301 &
          sleep 302
      - if: always()
        run: |
          ps -o pid,args | sed 's/^/ps: /'
          ps -o args | grep -q 'sleep 30[12]' || echo no-sleep-left
`, run.Trigger{Event: "push"}, run.Options{Parallel: 2})
	if r := job(t, res, "fails"); r.Result != "failure" || !strings.Contains(r.Steps[0].Error, "exit code 3") {
		t.Errorf("fails: %+v\n%s", r.Steps[0], out)
	}
	if r := job(t, res, "times-out"); r.Result != "failure" || !strings.Contains(out, "no-sleep-left") || !strings.Contains(out, "ps: PID") {
		t.Errorf("times-out: %+v\n%s", r, out)
	}
	if n := strings.Count(out, "Steps start through runner's agent in the container"); n != 2 {
		t.Errorf("%d of 2 jobs start their steps through the agent:\n%s", n, out)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}

	long := strconv.Itoa(100000 + os.Getpid()) // this test's own sleep
	cancelState := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the step runs: its marker is in the workspace.
		for ctx.Err() == nil {
			if m, _ := filepath.Glob(filepath.Join(cancelState, "runs", "*", "jobs", "*", "workspace", "started")); len(m) > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	res, out = runWF(t, ctx, `
on: push
jobs:
  c:
    runs-on: x
    container: `+ref+`
    steps:
      - run: touch started; sleep `+long+`
`, run.Trigger{Event: "push"}, run.Options{StateDir: cancelState})
	if r := res.Jobs[0]; r.Result != "cancelled" || len(r.Steps) != 1 || r.Steps[0].Conclusion != "cancelled" {
		t.Errorf("cancelled: %+v\n%s", r, out)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind after cancel: %v", left)
	}
	if b, _ := exec.Command("pgrep", "-f", "sleep "+long+"$").Output(); len(b) > 0 {
		t.Errorf("sleep processes left: %s", b)
	}
}

// glibcLayer holds the host's dynamic loader and the libraries node is
// linked against, so that runner's node (mounted) runs in the image.
func glibcLayer(t *testing.T, node string) v1.Layer {
	t.Helper()
	out, err := exec.Command("ldd", node).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", node, err)
	}
	dirs := map[string]bool{}
	var entries []ct.Entry
	add := func(p string) {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			t.Fatal(err)
		}
		for d := filepath.Dir(p); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			entries = append([]ct.Entry{{Name: strings.TrimPrefix(d, "/") + "/"}}, entries...)
		}
		entries = append(entries, ct.Entry{Name: strings.TrimPrefix(p, "/"), Body: string(b), Mode: 0o755})
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			add(f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			add(f[0]) // the loader
		}
	}
	return ct.Layer(t, entries...)
}

const jsAndCompositeSteps = `
    steps:
      - run: |
          mkdir -p js comp
          cat > js/action.yml <<'EOF'
          name: js
          inputs: {who: {default: x}}
          outputs: {seen: {description: d}}
          runs: {using: node20, main: index.js}
          EOF
          cat > js/index.js <<'EOF'
          const fs = require('fs');
          console.log('marker: ' + fs.readFileSync('/etc/marker', 'utf8').trim());
          console.log('who=' + process.env.INPUT_WHO + ' cwd=' + process.cwd() + ' node=' + process.execPath + ' ws=' + process.env.GITHUB_WORKSPACE);
          fs.appendFileSync(process.env.GITHUB_OUTPUT, 'seen=yes\n');
          EOF
          cat > comp/action.yml <<'EOF'
          name: comp
          runs:
            using: composite
            steps:
              - run: echo "composite sees $(cat /etc/marker) at $GITHUB_ACTION_PATH"
                shell: sh
          EOF
      - uses: ./comp
      - id: js
        uses: ./js
        with: {who: me}
      - run: echo "js-output=${{ steps.js.outputs.seen }}"
`

// A JavaScript action in a container job runs inside the container with
// runner's node mounted at /__e/node/bin/node when the image has the
// libraries it needs; a composite action's run: steps run inside too.
func TestContainerJobJavaScriptAndCompositeActions(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node is missing: JavaScript actions need one (apt-get install nodejs)")
	}
	ref := jobImage(t, glibcLayer(t, node))
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  c:
    runs-on: x
    container: `+ref+jsAndCompositeSteps, run.Trigger{Event: "push"}, run.Options{})
	if r := job(t, res, "c"); r.Result != "success" {
		t.Fatalf("job: %+v\n%s", r, out)
	}
	for _, want := range []string{
		"composite sees marker of the job image at /__w/workspace/workspace/comp",
		"marker: marker of the job image",
		"who=me cwd=/__w/workspace/workspace node=/__e/node/bin/node ws=/__w/workspace/workspace",
		"js-output=yes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// In an image where runner's node cannot run and that has no node of its
// own, a JavaScript action fails saying why.
func TestContainerJobJavaScriptActionWithoutNode(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node is missing: JavaScript actions need one (apt-get install nodejs)")
	}
	ref := jobImage(t)
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  c:
    runs-on: x
    container: `+ref+jsAndCompositeSteps, run.Trigger{Event: "push"}, run.Options{})
	r := job(t, res, "c")
	if r.Result != "failure" || !strings.Contains(out, "no node can run in the job container") {
		t.Fatalf("job: %+v\n%s", r, out)
	}
}

// An image that cannot be pulled fails the job before any step, naming
// the image, and leaves nothing behind.
func TestContainerJobMissingImage(t *testing.T) {
	ref := jobImage(t)
	before := runcState()
	missing := strings.TrimSuffix(ref, ":1") + ":nope"
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  c:
    runs-on: x
    container:
      image: `+missing+`
      credentials: {username: someone, password: pa55-w0rd-secret}
    steps: [{run: echo never}]
`, run.Trigger{Event: "push"}, run.Options{})
	r := res.Jobs[0]
	if r.Result != "failure" || !strings.Contains(r.Error, missing) || strings.Contains(out, "never") {
		t.Fatalf("job: %+v\n%s", r, out)
	}
	if strings.Contains(out, "pa55-w0rd-secret") {
		t.Errorf("the password is in the log:\n%s", out)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A container job reaches its services by label at their published port
// (it shares the host's network): web:PORT with ports: ['PORT:80'], and
// by label or localhost at the ephemeral port job.services gives.
func TestContainerJobReachesServicesByLabel(t *testing.T) {
	ref := jobImage(t)
	svc := serviceImage(t)
	fixed := freePort(t)
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  c:
    runs-on: x
    container: %s
    services:
      web:
        image: %s
        env: {GREETING: by-label}
        ports: ['%d:80']
      other:
        image: %s
        env: {GREETING: ephemeral}
        ports: ['80']
    steps:
      - run: |
          cat /etc/marker
          wget -q -O- "http://web:%d/"
          wget -q -O- "http://other:${{ job.services.other.ports['80'] }}/"
`, ref, svc, fixed, svc, fixed), run.Trigger{Event: "push"}, run.Options{})
	if r := job(t, res, "c"); r.Result != "success" {
		t.Fatalf("job: %+v\n%s", r, out)
	}
	for _, want := range []string{"marker of the job image", "by-label\n", "ephemeral\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
