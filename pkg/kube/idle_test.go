package kube_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
)

// idlePods waits until n idle pods of the namespace run, and returns
// their names.
func idlePods(t testing.TB, c *kubetest.Cluster, ns string, n int) []string {
	t.Helper()
	var names []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelIdle})
		if err != nil {
			t.Fatal(err)
		}
		names = names[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil {
				names = append(names, p.Name)
			}
		}
		if len(names) == n {
			sort.Strings(names)
			return names
		}
		if time.Now().After(deadline) {
			var all []string
			for _, p := range list.Items {
				state := string(p.Status.Phase)
				for _, st := range p.Status.ContainerStatuses {
					if w := st.State.Waiting; w != nil {
						state += " " + w.Reason + ": " + w.Message
					}
				}
				all = append(all, p.Name+" ("+state+")")
			}
			t.Fatalf("%d idle pods running, want %d: %v (idle pods: %v)", len(names), n, names, all)
		}
	}
}

// TestIdlePods: a template's idle pods are started ahead of the jobs; a
// job claims one (labelled as its own, with its deadline set), an idle
// pod deleted by hand is skipped, each claimed pod runs one job and is
// deleted after it, the pool is refilled once the run is over (not while
// it runs), and Close leaves no pod.
func TestIdlePods(t *testing.T) {
	defer kube.SetIdleRefillAfter(time.Hour)()
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{Default: kube.PodTemplate{Idle: 3}})
	tr.Logf = t.Logf
	ns := tr.Client.Namespace
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := tr.Check(ctx); err != nil {
		t.Fatal(err)
	}
	tr.StartIdle()
	closed := false
	defer func() {
		if !closed {
			tr.Close()
		}
	}()
	idle := idlePods(t, c, ns, 3)
	// One idle pod is deleted by hand: no job may take it. The two
	// others are for the two jobs (a job never waits for the pool's
	// refill: b would create its pod if a had taken the last one).
	zero := int64(0)
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, idle[0], metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := c.Client.CoreV1().Pods(ns).Get(ctx, idle[0], metav1.GetOptions{}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s not gone", idle[0])
		}
	}

	// While job b sleeps, its pod is looked at, and the idle pods
	// counted: none, as a is over but the run is not.
	var seen *corev1.Pod
	idleDuringB := -1
	var mu sync.Mutex
	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for watchCtx.Err() == nil {
			list, err := c.Client.CoreV1().Pods(ns).List(watchCtx, metav1.ListOptions{LabelSelector: kube.LabelJob + "=b"})
			if err == nil && len(list.Items) == 1 {
				idle, err := c.Client.CoreV1().Pods(ns).List(watchCtx, metav1.ListOptions{LabelSelector: kube.LabelIdle})
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				mu.Lock()
				seen = list.Items[0].DeepCopy()
				idleDuringB = len(idle.Items)
				mu.Unlock()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	res := runWorkflow(t, ctx, `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "a in $(hostname)"
  b:
    needs: a
    runs-on: ubuntu-latest
    timeout-minutes: 3
    steps:
      - run: echo "b in $(hostname)"; sleep 2
`, run.Options{Remote: tr.Legs()})
	stopWatch()
	wg.Wait()
	log := jobLog(t, res)
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, log)
	}
	runners := map[string]string{}
	for _, j := range res.Jobs {
		runners[j.JobID] = j.Runner
	}
	left := map[string]bool{idle[1]: true, idle[2]: true}
	if !left[runners["a"]] || !left[runners["b"]] || runners["a"] == runners["b"] {
		t.Errorf("jobs ran in %v: want one each of the idle pods %s and %s (%s was deleted by hand)\n%s", runners, idle[1], idle[2], idle[0], log)
	}
	for _, j := range []string{"a", "b"} {
		if !strings.Contains(log, "Claimed idle pod "+ns+"/"+runners[j]) || !strings.Contains(log, j+" in "+runners[j]) {
			t.Errorf("job %s: its log does not say it ran in the idle pod %s:\n%s", j, runners[j], log)
		}
	}
	mu.Lock()
	p, idleB := seen, idleDuringB
	mu.Unlock()
	if idleB != 0 {
		t.Errorf("%d idle pods while job b ran: the pool is refilled only once the run is over", idleB)
	}
	switch {
	case p == nil:
		t.Errorf("job b's pod was never seen with its job label")
	case p.Name != runners["b"]:
		t.Errorf("the pod labelled job=b is %s, b ran in %s", p.Name, runners["b"])
	case p.Labels[kube.LabelIdle] != "" || p.Labels[kube.LabelRun] == "" || p.Annotations[kube.AnnotationLeg] != "b":
		t.Errorf("claimed pod's labels %v annotations %v", p.Labels, p.Annotations)
	case p.Spec.ActiveDeadlineSeconds == nil || *p.Spec.ActiveDeadlineSeconds < 180+30+120 || *p.Spec.ActiveDeadlineSeconds > 180+30+120+120:
		t.Errorf("claimed pod's activeDeadlineSeconds %v: want b's timeout (3 min) and the margin, counted from the pod's start", p.Spec.ActiveDeadlineSeconds)
	}
	// The pool is refilled with new pods; the claimed ones are gone.
	again := idlePods(t, c, ns, 3)
	for _, name := range again {
		if name == runners["a"] || name == runners["b"] {
			t.Errorf("pod %s ran a job and is idle again", name)
		}
	}
	closed = true
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if left := pods(t, c, ns); len(left) > 0 {
		t.Errorf("pods left after Close: %v", left)
	}
}

// TestIdleRefillAfter: while a run keeps going, its claimed pod is
// replaced idleRefillAfter after the claim.
func TestIdleRefillAfter(t *testing.T) {
	defer kube.SetIdleRefillAfter(time.Second)()
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{Default: kube.PodTemplate{Idle: 1}})
	ns := tr.Client.Namespace
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tr.StartIdle()
	defer tr.Close()
	first := idlePods(t, c, ns, 1)[0]
	// A new idle pod running while the job still runs (it sleeps 20 s).
	watchCtx, stopWatch := context.WithCancel(ctx)
	seen := make(chan string, 1)
	go func() {
		defer close(seen)
		for watchCtx.Err() == nil {
			list, err := c.Client.CoreV1().Pods(ns).List(watchCtx, metav1.ListOptions{LabelSelector: kube.LabelIdle})
			if err == nil {
				for _, p := range list.Items {
					if p.Name != first && p.Status.Phase == corev1.PodRunning {
						seen <- p.Name
						return
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	res := runWorkflow(t, ctx, `on: push
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: sleep 20
`, run.Options{Remote: tr.Legs()})
	stopWatch()
	refill := <-seen
	if res.Conclusion != "success" || res.Jobs[0].Runner != first {
		t.Fatalf("conclusion %s, runner %s (want the idle pod %s):\n%s", res.Conclusion, res.Jobs[0].Runner, first, jobLog(t, res))
	}
	if refill == "" {
		t.Errorf("no new idle pod ran while the job did (20 s; refill after 1 s)")
	}
}

// TestServeIdlePods: runner serve with idle pods: a dispatched job runs
// in one (runner_name), the pool is refilled, a kill -9 of the service
// leaves its idle pods to the next start's sweep, and a SIGTERM deletes
// them.
func TestServeIdlePods(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{}) // the image, the binary, the namespace
	ns := tr.Client.Namespace
	config, url := serveConfig(t, c, ns, tr.Config.Image, map[string]string{
		".github/workflows/k.yaml": `on: workflow_dispatch
jobs:
  quick:
    runs-on: ubuntu-latest
    steps:
      - run: echo "in $(hostname)"
`,
	}, `  templates:
    ubuntu-latest:
      idle: 1
`)
	s := startServe(t, config, url)
	first := idlePods(t, c, ns, 1)
	if code := s.call("POST", "/repos/local/repo/actions/workflows/k.yaml/dispatches", map[string]any{"ref": "main"}, nil); code != 204 {
		t.Fatalf("dispatch: %d\n%s", code, s.log)
	}
	var runs struct {
		Runs []struct {
			ID         int64  `json:"id"`
			Conclusion string `json:"conclusion"`
		} `json:"workflow_runs"`
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		s.call("GET", "/repos/local/repo/actions/runs", nil, &runs)
		if len(runs.Runs) == 1 && runs.Runs[0].Conclusion != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end: %+v\n%s", runs, s.log)
		}
	}
	var jobs jobsPage
	s.call("GET", fmt.Sprintf("/repos/local/repo/actions/runs/%d/jobs", runs.Runs[0].ID), nil, &jobs)
	if runs.Runs[0].Conclusion != "success" || len(jobs.Jobs) != 1 || jobs.Jobs[0].RunnerName != first[0] {
		t.Fatalf("run %+v jobs %+v: want success in the idle pod %s\n%s", runs, jobs, first[0], s.log)
	}
	second := idlePods(t, c, ns, 1)
	if second[0] == first[0] {
		t.Fatalf("the pod that ran the job is idle again: %s", second[0])
	}
	// kill -9: the idle pod stays until the next start sweeps it.
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	s2 := startServe(t, config, url)
	third := idlePods(t, c, ns, 1)
	if third[0] == second[0] {
		t.Errorf("after a kill -9 and a restart: idle pod %s is the one before", third[0])
	}
	// SIGTERM: the service ends and its idle pods with it.
	s2.cmd.Process.Signal(syscall.SIGTERM)
	if err := s2.cmd.Wait(); err != nil {
		t.Errorf("runner serve after SIGTERM: %v\n%s", err, s2.log)
	}
	// Its log is read once it has ended (the process writes it).
	if !strings.Contains(s2.log.String(), second[0]) {
		t.Errorf("the restarted service's log does not name the idle pod it swept (%s):\n%s", second[0], s2.log)
	}
	if left := pods(t, c, ns); len(left) > 0 {
		t.Errorf("pods left after the service's end: %v\n%s", left, s2.log)
	}
}

func TestIdleConfig(t *testing.T) {
	c, err := kube.ParseConfig([]byte("default: {idle: 2}\ntemplates:\n  big: {idle: 1}\n"))
	if err != nil || c.Default.Idle != 2 || c.Templates["big"].Idle != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	for src, want := range map[string]string{
		"default: {idle: -1}":            "default.idle -1: want 0 to 50",
		"templates: {big: {idle: 51}}":   "templates.big.idle 51: want 0 to 50",
		"templates: {big: {idle: many}}": "idle",
	} {
		if _, err := kube.ParseConfig([]byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}

// TestExecIdlePods: runner exec --executor kubernetes starts a template's
// idle pods ahead of its run (a job that starts before they run creates
// its own pod); a later job claims one, a claimed pod is not replaced,
// each idle pod has a deadline (no later start sweeps an exec's pods),
// and the one left unclaimed is deleted at the exit.
func TestExecIdlePods(t *testing.T) {
	c := kubetest.Shared(t)
	r := newExecRepo(t, c, map[string]string{"two.yaml": `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "a in $(hostname)"; sleep 3
  b:
    needs: a
    runs-on: ubuntu-latest
    steps:
      - run: echo "b in $(hostname)"; sleep 3
`}, "default: {idle: 2}\n")
	r.commit()
	ns := r.tr.Client.Namespace
	// The idle pods seen while the run goes on, with their deadlines.
	var mu sync.Mutex
	seen := map[string]*int64{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ; ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
			list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelIdle})
			if err != nil {
				continue
			}
			mu.Lock()
			for _, p := range list.Items {
				seen[p.Name] = p.Spec.ActiveDeadlineSeconds
			}
			mu.Unlock()
		}
	}()
	out, code := r.exec("two.yaml")
	stop()
	wg.Wait()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "Claimed idle pod "+ns+"/runner-idle-") {
		t.Errorf("no job claimed an idle pod:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Errorf("idle pods seen: %v, want the 2 started ahead (none replaced)", seen)
	}
	for name, d := range seen {
		if d == nil || *d < 6*3600 {
			t.Errorf("idle pod %s: activeDeadlineSeconds %v, want one past a job's longest timeout", name, d)
		}
	}
	if left := pods(t, c, ns); len(left) > 0 {
		t.Errorf("pods left after runner exec: %v", left)
	}
}
