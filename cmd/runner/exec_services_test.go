package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
)

// serviceWorkflow has one job with a busybox httpd service; its step
// writes the service's container id and its own pid into dir, then waits.
func serviceWorkflow(t *testing.T, dir string) string {
	t.Helper()
	containertest.Require(t, containertest.Root, containertest.Runc, containertest.Busybox)
	addr := containertest.Registry(t)
	img := containertest.Image(t, containertest.Alpine(t), v1.Config{
		Cmd: []string{"/bin/sh", "-c", `echo up > /www/index.html; exec httpd -f -v -p 80 -h /www`},
	}, containertest.Layer(t, containertest.Entry{Name: "www/"}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), addr+"/web", []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "w.yaml", fmt.Sprintf(`on: push
jobs:
  a:
    runs-on: x
    services:
      web:
        image: %s/web:latest
        ports: ['80']
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1/"
    steps:
      - run: |
          busybox wget -q -O- http://localhost:${{ job.services.web.ports['80'] }}/
          echo $$ > %s/step.pid
          echo -n ${{ job.services.web.id }} > %s/id.tmp && mv %s/id.tmp %s/id
          sleep 60
`, addr, dir, dir, dir, dir))
}

// waitForService waits for the step to write the service's id and returns
// it with the step's pid.
func waitForService(t *testing.T, dir string, cmd *exec.Cmd, out *strings.Builder) (string, int) {
	t.Helper()
	for i := 0; i < 1500; i++ {
		if b, err := os.ReadFile(filepath.Join(dir, "id")); err == nil {
			p, _ := os.ReadFile(filepath.Join(dir, "step.pid"))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(p)))
			return string(b), pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("the step never saw its service\n%s", out.String())
	return "", 0
}

// serviceLeft says what is left of container id: runc state, bundle, a
// process naming it.
func serviceLeft(id string) []string {
	var left []string
	if b, err := exec.Command(containertest.RuncPath(), "state", id).CombinedOutput(); err == nil {
		left = append(left, "runc state: "+string(b))
	}
	if _, err := os.Stat(filepath.Join(container.DefaultDir(), id)); err == nil {
		left = append(left, "its bundle")
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), id) {
			left = append(left, fmt.Sprintf("process %s %q", p, b))
		}
	}
	return left
}

// Ctrl-C during a step removes the job's service before runner exits.
func TestExecInterruptRemovesServices(t *testing.T) {
	dir := t.TempDir()
	wf := serviceWorkflow(t, dir)
	bin := buildRunner(t)
	cmd := exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id, _ := waitForService(t, dir, cmd, &out)
	if left := serviceLeft(id); len(left) == 0 {
		t.Fatalf("service %s not found while the job runs", id)
	}
	cmd.Process.Signal(os.Interrupt)
	if code := exitCode(cmd.Wait()); code != 130 {
		t.Errorf("exit code %d, want 130\n%s", code, out.String())
	}
	if left := serviceLeft(id); len(left) > 0 {
		t.Errorf("after Ctrl-C, left of %s: %v\n%s", id, left, out.String())
	}
	if !strings.Contains(out.String(), "Stop and remove service web") {
		t.Errorf("no Stop containers section:\n%s", out.String())
	}
}

// After a kill -9 of runner, the next run with services removes what is
// left of the killed runner's service (its container, bundle, process).
func TestExecKilledRunnerServiceSwept(t *testing.T) {
	dir := t.TempDir()
	wf := serviceWorkflow(t, dir)
	bin := buildRunner(t)
	cmd := exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id, stepPid := waitForService(t, dir, cmd, &out)
	cmd.Process.Kill()
	cmd.Wait()
	if stepPid > 0 {
		syscall.Kill(stepPid, syscall.SIGKILL) // the step's own leftover is not this test's subject
	}
	// runc gets SIGTERM (PDEATHSIG) and passes it on, but a server that is
	// the container's pid 1 without a handler ignores it (busybox httpd
	// here): the container may run on until the next start sweeps it.
	if left := serviceLeft(id); len(left) == 0 {
		t.Logf("the service ended with runner")
	}
	os.Remove(filepath.Join(dir, "id"))
	again := exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state2"))
	out.Reset()
	again.Stdout, again.Stderr = &out, &out
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	id2, _ := waitForService(t, dir, again, &out)
	if left := serviceLeft(id); len(left) > 0 {
		t.Errorf("the next run left %s of the killed runner: %v", id, left)
	}
	again.Process.Signal(os.Interrupt)
	again.Wait()
	if left := serviceLeft(id2); len(left) > 0 {
		t.Errorf("left of %s: %v", id2, left)
	}
}
