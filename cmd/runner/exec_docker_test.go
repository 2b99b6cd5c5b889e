package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
)

// dockerStepWorkflow has one job whose docker:// step writes its
// container's id (its hostname) into the workspace and then sleeps as
// the container's pid 1 (which ignores SIGTERM).
func dockerStepWorkflow(t *testing.T, dir string) string {
	t.Helper()
	containertest.Require(t, containertest.Root, containertest.Runc, containertest.Busybox)
	addr := containertest.Registry(t)
	img := containertest.Image(t, containertest.Alpine(t), v1.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), addr+"/sleeper", []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "d.yaml", fmt.Sprintf(`on: push
jobs:
  a:
    runs-on: x
    steps:
      - uses: docker://%s/sleeper:latest
        with:
          entrypoint: /bin/sh
          args: -c "hostname > id.tmp && mv id.tmp id && exec sleep 61"
`, addr))
}

// waitForDockerStep waits until the step in the run under state wrote
// its container's id.
func waitForDockerStep(t *testing.T, state string, cmd *exec.Cmd, out *strings.Builder) string {
	t.Helper()
	for i := 0; i < 1500; i++ {
		if m, _ := filepath.Glob(filepath.Join(state, "runs", "*", "jobs", "a", "workspace", "id")); len(m) > 0 {
			if b, err := os.ReadFile(m[0]); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("the docker:// step never started\n%s", out.String())
	return ""
}

// dockerLeft is serviceLeft and a mount naming the container.
func dockerLeft(id string) []string {
	left := serviceLeft(id)
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), id) {
		left = append(left, "a mount")
	}
	return left
}

// Ctrl-C during a docker:// step removes its container before runner
// exits; after a kill -9 of runner, the next runner that starts a
// container removes what is left (container, overlay, bundle).
func TestExecDockerStepInterruptAndKill(t *testing.T) {
	dir := t.TempDir()
	wf := dockerStepWorkflow(t, dir)
	bin := buildRunner(t)

	state := filepath.Join(dir, "state")
	cmd := exec.Command(bin, "exec", wf, "--state", state)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id := waitForDockerStep(t, state, cmd, &out)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if left := dockerLeft(id); len(left) > 0 {
		t.Errorf("after Ctrl-C, left of %s: %v\n%s", id, left, out.String())
	}

	state = filepath.Join(dir, "state-killed")
	cmd = exec.Command(bin, "exec", wf, "--state", state)
	out.Reset()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id = waitForDockerStep(t, state, cmd, &out)
	cmd.Process.Kill()
	cmd.Wait()
	if left := dockerLeft(id); len(left) == 0 {
		t.Logf("the container ended with runner")
	}
	state = filepath.Join(dir, "state-next")
	again := exec.Command(bin, "exec", wf, "--state", state)
	out.Reset()
	again.Stdout, again.Stderr = &out, &out
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	id2 := waitForDockerStep(t, state, again, &out)
	if left := dockerLeft(id); len(left) > 0 {
		t.Errorf("the next run left %s of the killed runner: %v", id, left)
	}
	again.Process.Signal(os.Interrupt)
	again.Wait()
	if left := dockerLeft(id2); len(left) > 0 {
		t.Errorf("left of %s: %v", id2, left)
	}
}
