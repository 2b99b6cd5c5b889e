package kube_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/workflow"
)

// The executor's tests run on two nodes (two kubelets with their own
// containerd on this machine): pods land on either, and nothing may
// assume the controller and a pod share a node. kube-proxy and CoreDNS run
// too: runner serve itself runs in the cluster (incluster_test.go).
func TestMain(m *testing.M) {
	code := kubetest.MainWith(m, kubetest.Options{Nodes: 2, Proxy: true, DNS: true})
	if runnerBin != "" {
		os.RemoveAll(filepath.Dir(runnerBin))
	}
	os.Exit(code)
}

var (
	imageOnce sync.Once
	imageRef  string
	imageErr  error
	runnerBin string // this tree's runner, built once (static)
)

// runnerImage builds this tree's runner (static) and this machine's node
// into baseimage.Runner and pushes it to the cluster's registry, once.
func runnerImage(t testing.TB, c *kubetest.Cluster) string {
	t.Helper()
	imageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "runner-kube-")
		if err != nil {
			imageErr = err
			return
		}
		bin := filepath.Join(dir, "runner")
		runnerBin = bin
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/runner")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			imageErr = fmt.Errorf("go build ./cmd/runner: %v\n%s", err, out)
			return
		}
		// node too, as GitHub's runners bring theirs: JavaScript
		// actions run in the pods (node_test.go).
		node, err := exec.LookPath("node")
		if err != nil {
			imageErr = fmt.Errorf("the runner image's node (package nodejs): %w", err)
			return
		}
		img, err := baseimage.Runner(context.Background(), baseimage.RunnerOptions{Binary: bin, Node: node})
		if err != nil {
			imageErr = err
			return
		}
		imageRef = containertest.Push(t, img, c.RegistryAddr, "runner/runner", "test")
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageRef
}

// transport is an executor on the shared cluster, in a namespace of the
// test's own.
func transport(t *testing.T, c *kubetest.Cluster, cfg kube.Config) *kube.Transport {
	t.Helper()
	return transportAs(t, c, namespace(t, c), c.Kubeconfig, cfg)
}

// transportAs is an executor in namespace ns that connects with the
// kubeconfig file given.
func transportAs(t *testing.T, c *kubetest.Cluster, ns, kubeconfig string, cfg kube.Config) *kube.Transport {
	t.Helper()
	cfg.Kubeconfig, cfg.Namespace = kubeconfig, ns
	if cfg.Image == "" {
		cfg.Image = runnerImage(t, c)
	}
	cl, err := kube.Connect(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &kube.Transport{Config: &cfg, Client: cl, Instance: "test-" + ns}
}

func namespace(t *testing.T, c *kubetest.Cluster) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	// The admission of pods needs the namespace's default service
	// account, which the controller-manager makes a moment later.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default service account: %v", name, err)
		}
	}
	return name
}

// pods lists the pods of namespace ns.
func pods(t *testing.T, c *kubetest.Cluster, ns string) []string {
	t.Helper()
	list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}

func runWorkflow(t *testing.T, ctx context.Context, src string, opts run.Options) *run.Result {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "wf.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var wo workflow.Options
	if opts.Builtins != nil {
		wo.Builtins = opts.Builtins
	}
	w, errs := workflow.Load(file, []byte(src), wo)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	plan, err := run.NewPlan(w, run.Trigger{})
	if err != nil {
		t.Fatal(err)
	}
	plan.Source = []byte(src)
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(dir, "state")
	}
	res, err := run.Run(ctx, plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func jobLog(t *testing.T, res *run.Result) string {
	t.Helper()
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(res.Dir, "*.log"))
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("== " + filepath.Base(l) + "\n")
		b.Write(data)
	}
	return b.String()
}

// TestLegsRunInPods: a workflow's jobs run in pods (the pod's host name
// is its name), outputs cross from one pod to the next, every matrix leg
// has its own pod, a secret is masked, and no pod is left.
func TestLegsRunInPods(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res := runWorkflow(t, ctx, `on: push
jobs:
  first:
    runs-on: ubuntu-latest
    outputs:
      host: ${{ steps.w.outputs.host }}
    steps:
      - id: w
        run: echo "host=$(hostname)" >> "$GITHUB_OUTPUT"
      - run: echo "the token is ${{ secrets.TOKEN }}"
  second:
    needs: first
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - run: echo "leg ${{ matrix.n }} in $(hostname) after ${{ needs.first.outputs.host }}"
`, run.Options{Remote: tr.Legs(), Secrets: map[string]string{"TOKEN": "s3cret-value"}})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s: %s", res.Conclusion, jobLog(t, res))
	}
	log := jobLog(t, res)
	if strings.Contains(log, "s3cret-value") {
		t.Errorf("the secret is in the log:\n%s", log)
	}
	var first string
	for _, j := range res.Jobs {
		if j.JobID == "first" {
			first = j.Outputs["host"]
		}
		if !strings.HasPrefix(j.Runner, "runner-"+j.JobID+"-") {
			t.Errorf("job %s ran on %q, want a pod of its own", j.Key, j.Runner)
		}
		if !strings.Contains(log, "Running in pod "+tr.Client.Namespace+"/"+j.Runner+" on node ") {
			t.Errorf("job %s: its log does not name its pod %s and node:\n%s", j.Key, j.Runner, log)
		}
	}
	if !strings.HasPrefix(first, "runner-first-") {
		t.Errorf("first's host output %q: want its pod's name", first)
	}
	for _, n := range []string{"1", "2"} {
		if !strings.Contains(log, "leg "+n+" in runner-second-") || !strings.Contains(log, "after "+first) {
			t.Errorf("leg %s did not run in a pod of its own after %s:\n%s", n, first, log)
		}
	}
	if left := pods(t, c, tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left after the run: %v", left)
	}
}

// TestPodFailureReasons: a leg whose pod cannot run or is killed by the
// cluster fails its job with the cluster's reason, and leaves no pod.
func TestPodFailureReasons(t *testing.T) {
	c := kubetest.Shared(t)
	image := runnerImage(t, c)
	tr := transport(t, c, kube.Config{
		Image:        image,
		StartTimeout: metav1.Duration{Duration: time.Minute},
		Templates: map[string]kube.PodTemplate{
			"no-such-image": {Image: c.RegistryAddr + "/runner/no-such-image:1"},
			"small": {Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceMemory: resource.MustParse("64Mi")}}},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res := runWorkflow(t, ctx, `on: push
jobs:
  pull:
    runs-on: no-such-image
    steps:
      - run: echo never
  oom:
    runs-on: small
    steps:
      - run: echo start; x=$(head -c 400000000 /dev/zero | tr '\0' a); echo never ${#x}
`, run.Options{Remote: tr.Legs()})
	errs := map[string]string{}
	for _, j := range res.Jobs {
		if j.Result != "failure" {
			t.Errorf("job %s: %s, want failure", j.JobID, j.Result)
		}
		errs[j.JobID] = j.Error
	}
	log := jobLog(t, res)
	if e := errs["pull"]; !strings.Contains(e, "ErrImagePull") && !strings.Contains(e, "ImagePullBackOff") {
		t.Errorf("pull: error %q, want the pull failure\n%s", e, log)
	}
	if !strings.Contains(log, "OOMKilled") {
		t.Errorf("oom: no OOMKilled in the job's log or error (%q)\n%s", errs["oom"], log)
	}
	if left := pods(t, c, tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left after the run: %v", left)
	}
}

// TestCancelDeletesPods: cancelling a run mid-step ends the leg as Ctrl-C
// does (its if: always() step runs, in the pod) and deletes its pod.
func TestCancelDeletesPods(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{Grace: metav1.Duration{Duration: 20 * time.Second}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once sync.Once
	obs := run.ObserverFunc(func(e run.Event) {
		if strings.Contains(e.Text, "sleeping now") {
			once.Do(func() { close(started) })
		}
	})
	go func() {
		select {
		case <-started:
			cancel()
		case <-time.After(2 * time.Minute):
			cancel()
		}
	}()
	res := runWorkflow(t, ctx, `on: push
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: echo sleeping now; sleep 300
      - if: always()
        run: echo cleanup ran in $(hostname)
`, run.Options{Remote: tr.Legs(), Observer: obs})
	if res.Conclusion != "cancelled" {
		t.Errorf("conclusion %s, want cancelled", res.Conclusion)
	}
	if log := jobLog(t, res); !strings.Contains(log, "cleanup ran in runner-long-") {
		t.Errorf("the if: always() step did not run in the pod:\n%s", log)
	}
	if left := pods(t, c, tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left after the cancel: %v", left)
	}
}

// TestSweepDeletesByLabel: Sweep deletes the pods and Secrets of its
// instance, found by label, and none of another instance's or of a pod
// that merely has a runner-like name.
func TestSweepDeletesByLabel(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx := context.Background()
	mine, err := tr.Open(ctx, kube.Leg{RunID: 7, Attempt: 1, Job: "orphan", Key: "orphan"})
	if err != nil {
		t.Fatal(err)
	}
	other := &kube.Transport{Config: tr.Config, Client: tr.Client, Instance: "another-instance"}
	theirs, err := other.Open(ctx, kube.Leg{RunID: 7, Attempt: 1, Job: "theirs", Key: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Kill()
	// A service env's Secret a killed controller left, and another
	// instance's.
	secrets := c.Client.CoreV1().Secrets(tr.Client.Namespace)
	secret := func(name, instance string) {
		t.Helper()
		_, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelInstance: instance}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	secret("runner-orphan-abcde", tr.Instance)
	secret("runner-theirs-abcde", "another-instance")
	gone, err := kube.Sweep(ctx, tr.Client, tr.Instance)
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 2 || gone[0] != mine.Pod || gone[1] != "secret/runner-orphan-abcde" {
		t.Errorf("swept %v, want only %s and secret/runner-orphan-abcde", gone, mine.Pod)
	}
	if _, err := secrets.Get(ctx, "runner-theirs-abcde", metav1.GetOptions{}); err != nil {
		t.Errorf("another instance's Secret: %v", err)
	}
	left := pods(t, c, tr.Client.Namespace)
	if !slices.Contains(left, theirs.Pod) {
		t.Errorf("another instance's pod %s was deleted (left: %v)", theirs.Pod, left)
	}
}

// TestLegsOnTwoNodes: runs-on labels pick pod templates, and the templates'
// node selectors put the legs of one run on both nodes; outputs cross
// from a pod on one node to a pod on the other.
func TestLegsOnTwoNodes(t *testing.T) {
	c := kubetest.Shared(t)
	if len(c.Nodes) < 2 {
		t.Fatalf("the shared cluster has %d node(s), want 2", len(c.Nodes))
	}
	a, b := c.Nodes[0].Name, c.Nodes[1].Name
	tr := transport(t, c, kube.Config{Templates: map[string]kube.PodTemplate{
		"node-a": {NodeSelector: map[string]string{"kubernetes.io/hostname": a}},
		"node-b": {NodeSelector: map[string]string{"kubernetes.io/hostname": b}},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res := runWorkflow(t, ctx, `on: push
jobs:
  first:
    runs-on: [self-hosted, node-a]
    outputs:
      pod: ${{ steps.p.outputs.pod }}
    steps:
      - id: p
        run: echo "pod=$(hostname)" >> "$GITHUB_OUTPUT"
  second:
    needs: first
    runs-on: [self-hosted, node-b]
    steps:
      - run: echo "in $(hostname) after ${{ needs.first.outputs.pod }}"
`, run.Options{Remote: tr.Legs()})
	log := jobLog(t, res)
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, log)
	}
	node := map[string]string{"first": a, "second": b}
	for _, j := range res.Jobs {
		if !strings.Contains(log, "Running in pod "+tr.Client.Namespace+"/"+j.Runner+" on node "+node[j.JobID]+"\n") {
			t.Errorf("job %s (pod %q) did not run on node %s:\n%s", j.JobID, j.Runner, node[j.JobID], log)
		}
	}
	if !strings.Contains(log, "after runner-first-") {
		t.Errorf("the output did not cross nodes:\n%s", log)
	}
}
