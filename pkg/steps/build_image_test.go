package steps

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/container"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/testenv"
)

// stepCtx builds a Context as the engine would: defaults, then in.
func stepCtx(b Builtin, workspace, state string, env, in map[string]string) (*Context, *testenv.Buffer) {
	inputs := map[string]string{}
	for _, i := range b.Spec().Inputs {
		inputs[i.Name] = i.Default
	}
	for k, v := range in {
		inputs[k] = v
	}
	if env == nil {
		env = map[string]string{}
	}
	log := &testenv.Buffer{}
	return &Context{
		Inputs: inputs, Env: env, Workspace: workspace, Temp: filepath.Join(workspace, ".tmp"),
		Run: RunInfo{ID: "1", StateDir: state}, Log: log,
	}, log
}

// buildEnv is what a build-image test needs: buildkitd, runc, a registry
// with the alpine stand-in as the docker.io mirror.
func buildEnv(t *testing.T) (env map[string]string, reg string) {
	t.Helper()
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd, ct.Busybox)
	t.Setenv("RUNNER_BUILDKITD", ct.BuildkitdPath())
	t.Setenv("BUILDKIT_HOST", "")
	reg = ct.Registry(t)
	return map[string]string{"RUNNER_REGISTRY_MIRROR": "docker.io=http://" + reg}, reg
}

var containerIDRE = regexp.MustCompile(`container (runner-[0-9a-f]+) removed`)

// assertContainerGone checks runc, mounts, processes and the bundle.
func assertContainerGone(t *testing.T, log string) {
	t.Helper()
	m := containerIDRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no container removal in the log:\n%s", log)
	}
	id := m[1]
	out, err := exec.Command(ct.RuncPath(), "list", "-q").CombinedOutput()
	if err != nil || strings.Contains(string(out), id) {
		t.Errorf("runc list: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(container.DefaultDir(), id)); !os.IsNotExist(err) {
		t.Errorf("bundle of %s left: %v", id, err)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), id) {
		t.Errorf("mount of %s left", id)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), id) {
			t.Errorf("process of %s left: %q", id, b)
		}
	}
}

func TestBuildArchiveRelaunchSmokeTest(t *testing.T) {
	env, _ := buildEnv(t)
	ws := ct.ServerContext(t, "<h1>Beautiful Birds</h1>\n")
	state := t.TempDir()
	ctx := context.Background()

	bi := &BuildImage{}
	s, log := stepCtx(bi, ws, state, env, map[string]string{
		"image": "birds-app-back-end", "archive": "out/backend.tar", "build-args": "GREETING=hello\n",
	})
	if err := bi.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	out := s.Outputs()
	if out["image"] != "birds-app-back-end:testing" || !strings.HasPrefix(out["digest"], "sha256:") ||
		out["archive"] != filepath.Join(ws, "out/backend.tar") {
		t.Fatalf("outputs %v", out)
	}
	for _, want := range []string{"registry mirrors: docker.io=http://", "FROM docker.io/library/alpine:latest", "exporting to oci image format"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("build log lacks %q:\n%s", want, log)
		}
	}

	ti := TestImage{}
	s, log = stepCtx(ti, ws, state, nil, map[string]string{"archive": "out/backend.tar", "expect-body": "Beautiful Birds"})
	if err := ti.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	out = s.Outputs()
	if out["status"] != "200" || !strings.HasPrefix(out["url"], "http://127.0.0.1:") || !strings.Contains(out["summary"], "200 OK") {
		t.Errorf("outputs %v", out)
	}
	for _, want := range []string{"container | listening on :8080", "container | GET /"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	assertContainerGone(t, log.String())

	// The build arg went through a RUN step; env and path reach the server.
	s, log = stepCtx(ti, ws, state, nil, map[string]string{
		"archive": "out/backend.tar", "path": "greeting.txt", "expect-body": `^hello\n$`,
		"env": "PORT=9090", "port": "9090"})
	if err := ti.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	assertContainerGone(t, log.String())
}

func TestWrongBodyFailsAndCleansUp(t *testing.T) {
	env, _ := buildEnv(t)
	ws := ct.ServerContext(t, "<h1>Beautiful Birds</h1>\n")
	state := t.TempDir()
	ctx := context.Background()
	bi := &BuildImage{}
	s, log := stepCtx(bi, ws, state, env, map[string]string{"image": "birds", "archive": "birds.tar"})
	if err := bi.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	ti := TestImage{}
	s, log = stepCtx(ti, ws, state, nil, map[string]string{"archive": "birds.tar", "expect-body": "Ugly Ducks"})
	err := ti.Run(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "does not match /Ugly Ducks/") ||
		!strings.Contains(err.Error(), "Beautiful Birds") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(log.String(), "container | GET /") {
		t.Errorf("the container's log is not in the step log:\n%s", log)
	}
	assertContainerGone(t, log.String())

	// A wrong status fails the same way.
	s, log = stepCtx(ti, ws, state, nil, map[string]string{"archive": "birds.tar", "path": "/nope", "expect-status": "200"})
	if err := ti.Run(ctx, s); err == nil || !strings.Contains(err.Error(), "404 Not Found, want 200") {
		t.Fatalf("err = %v", err)
	}
	assertContainerGone(t, log.String())
}

func TestBuildPushThenTestImageByRef(t *testing.T) {
	env, reg := buildEnv(t)
	ws := ct.ServerContext(t, "pushed birds\n")
	state := t.TempDir()
	ctx := context.Background()
	bi := &BuildImage{}
	s, log := stepCtx(bi, ws, state, env, map[string]string{
		"image": "owner/birds", "tags": "v1\nlatest", "push": "true", "registry": reg})
	if err := bi.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if s.Outputs()["image"] != reg+"/owner/birds:v1" {
		t.Fatalf("outputs %v", s.Outputs())
	}
	ti := TestImage{}
	s, log = stepCtx(ti, ws, state, nil, map[string]string{"image": reg + "/owner/birds:latest", "expect-body": "pushed"})
	if err := ti.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	assertContainerGone(t, log.String())
}

func TestBuildImageInputErrors(t *testing.T) {
	bi := &BuildImage{}
	for in, want := range map[[2]string]string{
		{"image", ""}:             "image is required",
		{"image", "Birds"}:        "must be lower case",
		{"tags", "good bad!"}:     `tag "bad!"`,
		{"build-args", "NOEQUAL"}: "build-args: line 1",
		{"push", "maybe"}:         "push: want true or false",
		{"cache", "x"}:            "cache: want true or false",
	} {
		inputs := map[string]string{"image": "ok"}
		inputs[in[0]] = in[1]
		s, _ := stepCtx(bi, t.TempDir(), t.TempDir(), nil, inputs)
		if err := bi.Run(context.Background(), s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%q: err = %v, want %q", in[0], in[1], err, want)
		}
	}
}

// Ctrl-C during a RUN step: the step fails, no archive (not even a partial
// one) is left, and neither buildkitd nor the RUN's process survives.
func TestBuildImageCancelLeavesNothing(t *testing.T) {
	env, _ := buildEnv(t)
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "Containerfile"), []byte("FROM alpine:latest\nRUN sleep 37 && echo done\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	bi := &BuildImage{}
	s, log := stepCtx(bi, ws, state, env, map[string]string{"image": "slow", "archive": "out/slow.tar"})
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan bool, 1)
	go func() {
		defer cancel()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if len(processes("sleep 37 && echo done")) > 0 {
				running <- true
				return
			}
		}
		running <- false
	}()
	start := time.Now()
	err := bi.Run(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("err = %v\n%s", err, log)
	}
	if !<-running {
		t.Fatalf("the RUN step never started:\n%s", log)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("cancel took %s", d)
	}
	if ents, _ := os.ReadDir(filepath.Join(ws, "out")); len(ents) != 0 {
		t.Errorf("left in out/: %v", ents)
	}
	for _, p := range append(processes("sleep 37 && echo done"), processes(state)...) {
		t.Errorf("process left: %q", p)
	}
}

// processes lists command lines that contain s.
func processes(s string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), s) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
