package kube_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
)

// TestTestImageInPod: `uses: test-image` in a job on the Kubernetes
// executor runs the image (an archive from the repository) as a pod of
// its own, pulled by the node through the scratch registry, and probes it
// from the job's pod over the pod network; the container's output is in
// the job's log, a failing image fails its job with the pod's reason and
// log, and no pod is left. Without a scratch registry the step says what
// is missing. Run as a user would: runner exec --executor kubernetes.
func TestTestImageInPod(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ns := tr.Client.Namespace
	repo := t.TempDir()
	wf := filepath.Join(repo, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ct.Archive(t, ct.HTTPDImage(t, "8080", "hello from a pod"), filepath.Join(repo, "site.tar"))
	// An image whose process says a word and exits 3 before it serves.
	ct.Archive(t, ct.Image(t, ct.Alpine(t), v1.Config{
		Cmd:          []string{"sh", "-c", "echo dying on purpose; exit 3"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}), filepath.Join(repo, "crash.tar"))
	write(filepath.Join(wf, "smoke.yaml"), `on: push
jobs:
  smoke:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: probe
        uses: test-image
        with:
          archive: site.tar
          expect-body: hello from a pod
      - run: echo "probed ${{ steps.probe.outputs.url }} from $(hostname)"
`)
	write(filepath.Join(wf, "crash.yaml"), `on: push
jobs:
  crash:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: test-image
        with:
          archive: crash.tar
          timeout: 60s
`)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// Pods push to the registry at the address they reach; the nodes
	// pull from it at theirs.
	cfg := filepath.Join(t.TempDir(), "executor.yaml")
	write(cfg, "scratch-registry:\n  push: http://"+c.PodRegistryAddr+"\n  pull: "+c.RegistryAddr+"\n")
	execRunner := func(wf string, withScratch bool) (string, int) {
		t.Helper()
		args := []string{"exec", wf, "--executor", "kubernetes", "--kubeconfig", c.Kubeconfig,
			"--namespace", ns, "--image", tr.Config.Image, "--state", filepath.Join(repo, ".runner")}
		if withScratch {
			args = append(args, "--executor-config", cfg)
		}
		cmd := exec.Command(runnerImageBin(t, c), args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	out, code := execRunner("smoke", true)
	t.Logf("runner exec smoke:\n%s", out)
	podAddr := regexp.MustCompile(`probed http://(10\.213\.\d+\.\d+):8080/ from runner-smoke-`)
	if code != 0 || !podAddr.MatchString(out) || !strings.Contains(out, "Running image "+c.RegistryAddr+"/runner/test-images@sha256:") ||
		!strings.Contains(out, "in pod "+ns+"/runner-smoke-") {
		t.Fatalf("runner exec smoke: exit %d, want 0 with the image run in a pod of its own and probed at its pod address:\n%s", code, out)
	}
	// busybox httpd -v logs the request it answered: the container's
	// output reached the job's log.
	if !regexp.MustCompile(`container \| .*`).MatchString(out) || !strings.Contains(out, "removed") {
		t.Errorf("the image pod's output or its removal is not in the job's log:\n%s", out)
	}

	out, code = execRunner("crash", true)
	t.Logf("runner exec crash:\n%s", out)
	if code != 1 || !strings.Contains(out, "exited with code 3") || !strings.Contains(out, "dying on purpose") {
		t.Errorf("runner exec crash: exit %d, want 1 naming the exit code and showing the image's output:\n%s", code, out)
	}

	out, code = execRunner("smoke", false)
	if code != 1 || !strings.Contains(out, "scratch-registry") {
		t.Errorf("runner exec smoke without a scratch registry: exit %d, want 1 naming the missing setting:\n%s", code, out)
	}

	left, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) > 0 {
		var names []string
		for _, p := range left.Items {
			names = append(names, p.Name)
		}
		t.Errorf("pods left: %v", names)
	}
}
