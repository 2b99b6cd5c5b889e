package kube_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/birdflock/runner/pkg/container"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
)

// execRepo is a git repository of workflows and files for runner exec
// --executor kubernetes, with an executor config that names the test
// cluster's registry as the scratch registry.
type execRepo struct {
	t    *testing.T
	c    *kubetest.Cluster
	tr   *kube.Transport
	dir  string
	cfg  string
	args []string // more arguments for every runner exec
}

func newExecRepo(t *testing.T, c *kubetest.Cluster, files map[string]string, extraConfig string) *execRepo {
	t.Helper()
	tr := transport(t, c, kube.Config{})
	r := &execRepo{t: t, c: c, tr: tr, dir: t.TempDir()}
	for name, text := range files {
		p := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.cfg = filepath.Join(t.TempDir(), "executor.yaml")
	cfg := "scratch-registry:\n  push: http://" + c.PodRegistryAddr + "\n  pull: " + c.RegistryAddr + "\n" + extraConfig
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// commit commits the repository's files.
func (r *execRepo) commit() {
	r.t.Helper()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", r.dir}, args...)...).CombinedOutput(); err != nil {
			r.t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// command is runner exec of workflow wf on the cluster.
func (r *execRepo) command(wf string, more ...string) *exec.Cmd {
	args := append([]string{"exec", wf, "--executor", "kubernetes", "--kubeconfig", r.c.Kubeconfig,
		"--namespace", r.tr.Client.Namespace, "--image", r.tr.Config.Image, "--state", filepath.Join(r.dir, ".runner"),
		"--executor-config", r.cfg}, r.args...)
	cmd := exec.Command(runnerImageBin(r.t, r.c), append(args, more...)...)
	cmd.Dir = r.dir
	return cmd
}

// exec runs workflow wf: its output and exit code.
func (r *execRepo) exec(wf string, more ...string) (string, int) {
	r.t.Helper()
	out, err := r.command(wf, more...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return string(out), code
}

// watchSpecs records every pod of namespace ns whose object (spec,
// labels, annotations) holds one of words, until the test ends: it
// lists the namespace's pods every 50 ms (a pod lives longer).
func watchSpecs(t *testing.T, c *kubetest.Cluster, ns string, words ...string) func() []string {
	t.Helper()
	return pollPods(t, c, ns, 50*time.Millisecond, func(_ context.Context, p corev1.Pod) []string {
		data, _ := json.Marshal(p)
		if containsAny(string(data), words) {
			return []string{p.Name}
		}
		return nil
	})
}

// pollPods lists the pods of ns every interval until the test ends and
// records what seen returns for each; the returned func gives what was
// recorded.
func pollPods(t *testing.T, c *kubetest.Cluster, ns string, interval time.Duration, seen func(context.Context, corev1.Pod) []string) func() []string {
	t.Helper()
	var mu sync.Mutex
	got := map[string]bool{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for _, p := range list.Items {
					for _, s := range seen(ctx, p) {
						mu.Lock()
						got[s] = true
						mu.Unlock()
					}
				}
			}
			cancel()
			select {
			case <-stop:
				return
			case <-time.After(interval):
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for n := range got {
			out = append(out, n)
		}
		return out
	}
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// TestTestImageSecretStaysOutOfPodSpecs: a secret in test-image's env or
// command would be written into the image pod's spec (and, on the way,
// into the leg pod's log: the container frame is not masked), where
// whoever may read pods reads it; the step is refused instead, naming
// the input, and no pod ever holds the secret. A secret in a container:'s
// env reaches the steps and no pod spec either, nor does a container's
// credentials: password; a test-image of an image: without
// port: that the job's pod cannot pull says why it pulled.
func TestTestImageSecretStaysOutOfPodSpecs(t *testing.T) {
	c := kubetest.Shared(t)
	const secret = "hunter2-audit-pw"
	r := newExecRepo(t, c, map[string]string{
		".github/workflows/secret.yaml": `on: push
jobs:
  img:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: test-image
        with:
          archive: site.tar
          env: TOKEN=${{ secrets.TOKEN }}
  cmd:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: test-image
        with:
          archive: site.tar
          command: httpd -f -p 8080 -h /www -r ${{ secrets.TOKEN }}
  ctr:
    runs-on: ubuntu-latest
    container:
      image: busybox
      env:
        TOKEN: ${{ secrets.TOKEN }}
      options: --user 1000:1000 --hostname box
    steps:
      - run: test "$TOKEN" = ` + secret + ` && echo "the secret reached the container's steps as $(id -u) on $(hostname)"
  creds:
    runs-on: ubuntu-latest
    container:
      image: busybox
      credentials:
        username: mona
        password: ${{ secrets.TOKEN }}
    steps:
      - run: echo "pulled with the job's credentials"
  byref:
    runs-on: ubuntu-latest
    steps:
      - uses: test-image
        with:
          image: IMAGE
`,
	}, "")
	// The node pulls from the registry at 127.0.0.1, where the job's pod
	// reaches nothing.
	ref := ct.Push(t, ct.HTTPDImage(t, "8080", "hello"), c.RegistryAddr, "audit/site", "1")
	wf := filepath.Join(r.dir, ".github/workflows/secret.yaml")
	data, _ := os.ReadFile(wf)
	if err := os.WriteFile(wf, []byte(strings.ReplaceAll(string(data), "IMAGE", ref)), 0o644); err != nil {
		t.Fatal(err)
	}
	ct.Archive(t, ct.HTTPDImage(t, "8080", "hello"), filepath.Join(r.dir, "site.tar"))
	r.commit()
	leaked := watchSpecs(t, c, r.tr.Client.Namespace, secret)
	out, code := r.exec("secret", "--secret", "TOKEN="+secret)
	t.Logf("runner exec secret:\n%s", out)
	if pods := leaked(); len(pods) > 0 {
		t.Errorf("the secret is in the object of pods %v", pods)
	}
	if strings.Contains(out, secret) {
		t.Errorf("the secret is in runner exec's output")
	}
	for _, want := range []string{
		"the secret reached the container's steps as 1000 on box",
		"test-image: env TOKEN holds a secret",
		"test-image: command holds a secret",
		// credentials: go to the node in an image pull Secret
		"pulled with the job's credentials",
		// the job's pod cannot read the image the node pulls: say why
		// the step tried, and how not to
		"test-image: reading the image's exposed ports from the job's pod (give port: to skip this)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("runner exec's output lacks %q", want)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1 (the test-image jobs refused)", code)
	}
	if left := pods(t, c, r.tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
}

// TestTestImageMemoryLimitIsNoReservation: test-image's memory-limit (4g
// by default) is a cap, as docker's --memory is; a pod whose limit is
// given without a request reserves the limit on its node, so a limit
// past what a node has free never schedules (and a few matrix legs'
// default 4g fill a node). The image pod requests no memory: a limit
// larger than the node runs, and the pod carries it as its limit. The
// image pod also ends by its leg pod's deadline (activeDeadlineSeconds):
// a runner exec killed with -9 cannot delete it, and its owner, the leg's
// pod, stays once its leg ended, so without one it ran forever.
func TestTestImageMemoryLimitIsNoReservation(t *testing.T) {
	c := kubetest.Shared(t)
	r := newExecRepo(t, c, map[string]string{
		".github/workflows/limit.yaml": `on: push
jobs:
  big:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - uses: actions/checkout@v4
      - uses: test-image
        with:
          archive: site.tar
          memory-limit: 64t
          expect-body: hello
`,
	}, "start-timeout: 40s\n")
	ct.Archive(t, ct.HTTPDImage(t, "8080", "hello"), filepath.Join(r.dir, "site.tar"))
	r.commit()
	var mu sync.Mutex
	limits := map[string]string{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			list, err := c.Client.CoreV1().Pods(r.tr.Client.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelRole + "=image"})
			if err == nil {
				for _, p := range list.Items {
					res := p.Spec.Containers[0].Resources
					deadline := "none"
					// The leg pod's: 5 min, the grace (30 s) and 2 min.
					if d := p.Spec.ActiveDeadlineSeconds; d != nil && *d > 0 && *d <= 450 {
						deadline = "within the leg's"
					}
					mu.Lock()
					limits[p.Name] = "limit " + res.Limits.Memory().String() + " request " + res.Requests.Memory().String() + " deadline " + deadline
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	out, code := r.exec("limit")
	t.Logf("runner exec limit:\n%s", out)
	close(stop)
	<-done
	if code != 0 || strings.Contains(out, "not scheduled") {
		t.Errorf("exit %d, want 0: a memory limit above the node's memory is a cap, not a reservation", code)
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, l := range limits {
		got = append(got, l)
	}
	if len(got) != 1 || got[0] != "limit 64Ti request 0 deadline within the leg's" {
		t.Errorf("image pods' memory %v, want one with limit 64Ti, request 0 and a deadline within the leg pod's", got)
	}
	if left := pods(t, c, r.tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
}

// TestTestImageInPodAsAUser: what a user tries with test-image in pods:
// an archive with two EXPOSEd ports (no port: is an error naming them;
// port: picks one), env: and command: inputs, an image: reference, an
// image that never answers (the step's timeout), two test-image steps in
// one job and matrix legs doing it at once; then Ctrl-C of runner exec
// while a test-image waits. No pod is left once runner exec returns.
func TestTestImageInPodAsAUser(t *testing.T) {
	c := kubetest.Shared(t)
	r := newExecRepo(t, c, map[string]string{
		".github/workflows/many.yaml": `on: push
jobs:
  many:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - uses: actions/checkout@v4
      - id: two
        uses: test-image
        with:
          archive: two.tar
          port: 9090
          env: |
            GREETING=hi-${{ matrix.n }}
          command: sh -c 'mkdir -p /w && echo "$GREETING from 9090" > /w/index.html && exec httpd -f -p 9090 -h /w'
          expect-body: hi-${{ matrix.n }} from 9090
      - uses: test-image
        with:
          image: IMAGE
          port: 8080
          expect-body: by reference
      - id: noport
        continue-on-error: true
        uses: test-image
        with:
          archive: two.tar
      - id: silent
        continue-on-error: true
        uses: test-image
        with:
          archive: two.tar
          port: 8080
          command: sleep 600
          timeout: 5s
      - run: echo "noport ${{ steps.noport.outcome }} silent ${{ steps.silent.outcome }}"
`,
		".github/workflows/cancel.yaml": `on: push
jobs:
  wait:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: test-image
        with:
          archive: two.tar
          port: 8080
          command: sleep 600
          timeout: 10m
`,
	}, "")
	two := ct.Image(t, ct.Alpine(t), v1.Config{
		Cmd:          []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9090/tcp": {}},
	}, ct.Layer(t, ct.Entry{Name: "www/"}, ct.Entry{Name: "www/index.html", Body: "two ports"}))
	ct.Archive(t, two, filepath.Join(r.dir, "two.tar"))
	ref := ct.Push(t, ct.HTTPDImage(t, "8080", "by reference"), c.RegistryAddr, "audit/site", "1")
	wf := filepath.Join(r.dir, ".github/workflows/many.yaml")
	data, _ := os.ReadFile(wf)
	if err := os.WriteFile(wf, []byte(strings.ReplaceAll(string(data), "IMAGE", ref)), 0o644); err != nil {
		t.Fatal(err)
	}
	r.commit()
	ns := r.tr.Client.Namespace

	out, code := r.exec("many")
	t.Logf("runner exec many:\n%s", out)
	if left := pods(t, c, ns); len(left) > 0 {
		t.Errorf("pods left after runner exec returned: %v", left)
	}
	if code != 0 {
		t.Errorf("runner exec many: exit %d, want 0", code)
	}
	for _, want := range []string{
		"port is required: the image exposes 2 ports",
		"no answer on port 8080 within 5s",
		"noport failure silent failure",
	} {
		if strings.Count(out, want) < 2 {
			t.Errorf("the output lacks %q in both legs", want)
		}
	}

	// Ctrl-C while test-image waits for an answer.
	cmd := r.command("cancel")
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelRole + "=image"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) > 0 && list.Items[0].Status.Phase == corev1.PodRunning {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no image pod ran:\n%s", buf.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	t.Logf("runner exec cancel (%v):\n%s", err, buf.String())
	if left := pods(t, c, ns); len(left) > 0 {
		t.Errorf("pods left after runner exec was interrupted: %v", left)
	}
	if !strings.Contains(buf.String(), "cancelled") {
		t.Errorf("the interrupted run does not say it was cancelled")
	}
}

// TestImagePodFollowsTheLegsTemplate: an image pod goes where its leg's
// template puts pods: on nodes dedicated to CI (a taint the template
// tolerates, a nodeSelector). Without the template's placement, it was
// never scheduled on a cluster whose nodes all carry the taint.
func TestImagePodFollowsTheLegsTemplate(t *testing.T) {
	c := kubetest.Shared(t)
	ctx := context.Background()
	taint := corev1.Taint{Key: "dedicated", Value: "ci", Effect: corev1.TaintEffectNoSchedule}
	for _, n := range c.Nodes {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Spec.Taints = append(node.Spec.Taints, taint)
		if _, err := c.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for range 5 {
				node, err := c.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
				if err != nil {
					continue
				}
				var keep []corev1.Taint
				for _, tt := range node.Spec.Taints {
					if tt.Key != taint.Key {
						keep = append(keep, tt)
					}
				}
				node.Spec.Taints = keep
				if _, err := c.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err == nil {
					return
				}
			}
			t.Errorf("node %s keeps the taint", n.Name)
		})
	}
	last := c.Nodes[len(c.Nodes)-1].Name
	r := newExecRepo(t, c, map[string]string{
		".github/workflows/placed.yaml": `on: push
jobs:
  placed:
    runs-on: ci
    steps:
      - uses: actions/checkout@v4
      - uses: test-image
        with:
          archive: site.tar
          expect-body: hello
`,
	}, `start-timeout: 30s
templates:
  ci:
    nodeSelector: {kubernetes.io/hostname: `+last+`}
    tolerations: [{key: dedicated, operator: Equal, value: ci, effect: NoSchedule}]
`)
	ct.Archive(t, ct.HTTPDImage(t, "8080", "hello"), filepath.Join(r.dir, "site.tar"))
	r.commit()
	out, code := r.exec("placed")
	t.Logf("runner exec placed:\n%s", out)
	if code != 0 || !strings.Contains(out, "-image-") || !strings.Contains(out, "on node "+last+" (") {
		t.Errorf("exit %d, want 0 with the image pod on node %s, where the template puts the leg", code, last)
	}
	if left := pods(t, c, r.tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
}

// TestImagePodRemovedBeforeItStarts: the leg may remove a container the
// controller has not started yet (a container-stop that overtakes the
// start: the step was cancelled at once); the container's Start then
// makes no pod. Before, Destroy of a pod not yet made did nothing and
// Start made it afterwards: a pod nobody deleted until its leg's went.
func TestImagePodRemovedBeforeItStarts(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := tr.Open(ctx, kube.Leg{RunID: 1, Attempt: 1, Job: "early", Key: "early"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Kill()
	ctr, err := conn.Containers().Setup(ctx, container.Spec{Ref: c.BusyboxImage, Command: []string{"sleep", "600"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctr.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Start(ctx); err == nil {
		t.Errorf("a removed container started")
	}
	list, err := c.Client.CoreV1().Pods(tr.Client.Namespace).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelRole + "=image"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		t.Errorf("image pod %s made after its container was removed", p.Name)
	}
}
