package run_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
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

// runcLeftovers lists runner's job containers runc still knows and the
// overlays still mounted.
func runcLeftovers(t *testing.T, before string) []string {
	t.Helper()
	var out []string
	list, _ := exec.Command(ct.RuncPath(), "list", "-q").Output()
	for _, id := range strings.Fields(string(list)) {
		if strings.HasPrefix(id, "runner-") && !strings.Contains(before, id) {
			out = append(out, "runc container "+id)
		}
	}
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.Contains(line, " overlay ") && strings.Contains(f[4], "/runner-containers/") && !strings.Contains(before, f[4]) {
			out = append(out, "mount "+f[4])
		}
	}
	return out
}

func runcState() string {
	list, _ := exec.Command(ct.RuncPath(), "list", "-q").Output()
	b, _ := os.ReadFile("/proc/self/mountinfo")
	return string(list) + string(b)
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
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	ents, _ := os.ReadDir(filepath.Join(state, "images"))
	if len(ents) != 2 { // one unpacked copy and its lock
		t.Errorf("image cache: %v", ents)
	}
}
