package kube_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// benchTransport is an executor on the shared cluster, in a namespace of
// the benchmark's own, with the runner image pushed and pulled onto the
// node once (a warm-up leg), so the figures are those of an image present.
func benchTransport(b *testing.B, c *kubetest.Cluster) *kube.Transport {
	b.Helper()
	cfg := kube.Config{Kubeconfig: c.Kubeconfig, Namespace: c.Namespace(b), Image: runnerImage(b, c)}
	cl, err := kube.Connect(&cfg)
	if err != nil {
		b.Fatal(err)
	}
	tr := &kube.Transport{Config: &cfg, Client: cl, Instance: "bench-" + cfg.Namespace}
	benchRun(b, "on: push\njobs:\n  warm:\n    runs-on: x\n    steps:\n      - run: 'true'\n", run.Options{Remote: tr.Legs()})
	return tr
}

// builtins are the built-in actions (upload-artifact, download-artifact).
var builtins = steps.Default()

// benchRun runs the workflow src and fails b unless it succeeds.
func benchRun(b *testing.B, src string, opts run.Options) *run.Result {
	b.Helper()
	w, errs := workflow.Load("bench.yaml", []byte(src), workflow.Options{Builtins: builtins})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	plan, err := run.NewPlan(w, run.Trigger{})
	if err != nil {
		b.Fatal(err)
	}
	plan.Source = []byte(src)
	opts.Builtins = builtins
	if opts.StateDir == "" {
		opts.StateDir = b.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := run.Run(ctx, plan, opts)
	if err != nil {
		b.Fatal(err)
	}
	if res.Conclusion != "success" {
		var log strings.Builder
		files, _ := filepath.Glob(filepath.Join(res.Dir, "*.log"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			log.Write(data)
		}
		b.Fatalf("run: %s\n%s", res.Conclusion, log.String())
	}
	return res
}

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// BenchmarkDispatchToFirstStep: from run.Run's start to the job's first
// StepStarted, a one-job workflow on the Kubernetes executor with the
// image on the node, 20 runs (target p50 ≤ 2 s). The phases: the pod's
// creation (the API call), its start (scheduled, sandbox, container
// running: the executor's watch), and from there to the first step (the
// attach, the spec and source on the stream, the remote's set-up).
func BenchmarkDispatchToFirstStep(b *testing.B) {
	c := kubetest.Shared(b)
	tr := benchTransport(b, c)
	const runs = 20
	src := "on: push\njobs:\n  one:\n    runs-on: x\n    steps:\n      - run: echo hello\n"
	for i := 0; i < b.N; i++ {
		var total, create, start, first []time.Duration
		for r := 0; r < runs; r++ {
			var mu sync.Mutex
			var created, running, step time.Time
			obs := run.ObserverFunc(func(e run.Event) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case e.Kind == run.Line && strings.Contains(e.Text, "Created pod") && created.IsZero():
					created = e.Time
				case e.Kind == run.Line && strings.Contains(e.Text, "Running in pod") && running.IsZero():
					running = e.Time
				case e.Kind == run.StepStarted && step.IsZero():
					step = e.Time
				}
			})
			t0 := time.Now()
			benchRun(b, src, run.Options{Remote: tr.Legs(), Observer: obs})
			if created.IsZero() || running.IsZero() || step.IsZero() {
				b.Fatalf("run %d: missing events (created %v, running %v, step %v)", r, created, running, step)
			}
			total = append(total, step.Sub(t0))
			create = append(create, created.Sub(t0))
			start = append(start, running.Sub(created))
			first = append(first, step.Sub(running))
		}
		b.ReportMetric(percentile(total, 50).Seconds(), "p50-s")
		b.ReportMetric(percentile(total, 99).Seconds(), "p99-s")
		b.ReportMetric(percentile(create, 50).Seconds(), "create-p50-s")
		b.ReportMetric(percentile(start, 50).Seconds(), "podstart-p50-s")
		b.ReportMetric(percentile(first, 50).Seconds(), "attach-to-step-p50-s")
		b.Logf("dispatch→first step over %d runs: %v", runs, total)
	}
}

// legTimes records, for each leg of a run, when its first step started,
// when its last step ended and when the leg ended: a remote leg's set-up
// and tear-down around its steps.
type legTimes struct {
	mu                       sync.Mutex
	started, lastStep, ended map[string]time.Time
}

func newLegTimes() *legTimes {
	return &legTimes{started: map[string]time.Time{}, lastStep: map[string]time.Time{}, ended: map[string]time.Time{}}
}

func (l *legTimes) Observe(e run.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e.Kind {
	case run.JobStarted:
		l.started[e.Job] = e.Time
	case run.StepEnded:
		l.lastStep[e.Job] = e.Time
	case run.JobEnded:
		l.ended[e.Job] = e.Time
	}
}

// tails are the times from each leg's last step's end to the leg's end.
func (l *legTimes) tails() []time.Duration {
	var ds []time.Duration
	for job, end := range l.ended {
		if s, ok := l.lastStep[job]; ok {
			ds = append(ds, end.Sub(s))
		}
	}
	return ds
}

// compare runs src on the Kubernetes executor and locally, in turn, and
// reports both walls, their ratio, and the median tail of a pod leg (its
// last step's end to the leg's end: the pod's exit and deletion).
func compare(b *testing.B, tr *kube.Transport, src string, parallel int, per float64) {
	for i := 0; i < b.N; i++ {
		lt := newLegTimes()
		t0 := time.Now()
		benchRun(b, src, run.Options{Remote: tr.Legs(), Parallel: parallel, Observer: lt})
		kubeWall := time.Since(t0)
		t0 = time.Now()
		benchRun(b, src, run.Options{Parallel: parallel})
		localWall := time.Since(t0)
		b.ReportMetric(kubeWall.Seconds()/per, "kube-s")
		b.ReportMetric(localWall.Seconds()/per, "local-s")
		b.ReportMetric(float64(kubeWall)/float64(localWall), "ratio")
		b.ReportMetric(percentile(lt.tails(), 50).Seconds(), "pod-tail-p50-s")
	}
}

// BenchmarkJobOverhead: 8 independent one-step jobs, one at a time, on
// the Kubernetes executor and locally; kube-s and local-s are per job.
func BenchmarkJobOverhead(b *testing.B) {
	c := kubetest.Shared(b)
	tr := benchTransport(b, c)
	const n = 8
	src := "on: push\njobs:\n"
	for j := 0; j < n; j++ {
		src += "  j" + strconv.Itoa(j) + ":\n    runs-on: x\n    steps:\n      - run: echo job " + strconv.Itoa(j) + "\n"
	}
	compare(b, tr, src, 1, n)
}

// BenchmarkPipeline: a pipeline's shape (a build job with an output and
// an artifact, a matrix of three test legs that download it, a release
// job that needs both), two jobs at once, on the Kubernetes executor and
// locally; kube-s and local-s are the walls.
func BenchmarkPipeline(b *testing.B) {
	c := kubetest.Shared(b)
	tr := benchTransport(b, c)
	compare(b, tr, `on: push
jobs:
  build:
    runs-on: x
    outputs:
      version: ${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=1.2.3" >> "$GITHUB_OUTPUT"
      - run: mkdir -p dist && head -c 1000000 /dev/urandom > dist/app
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: dist
  test:
    needs: build
    runs-on: x
    strategy:
      matrix:
        shard: [1, 2, 3]
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: dist
          path: dist
      - run: test -s dist/app && echo "shard ${{ matrix.shard }} of ${{ needs.build.outputs.version }}"
  release:
    needs: [build, test]
    runs-on: x
    steps:
      - run: echo "release ${{ needs.build.outputs.version }}"
`, 2, 1)
}

// procMB is a field of /proc/PID/status (VmRSS, VmHWM) in MiB.
func procMB(pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// runningLegs counts the pods of ns whose leg container runs.
func runningLegs(ctx context.Context, c *kubetest.Cluster, ns string) (running, all int) {
	list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, 0
	}
	for _, p := range list.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running != nil {
				running++
			}
		}
	}
	return running, len(list.Items)
}

// BenchmarkControllerRSS: the memory of the controller (a `runner exec
// --executor kubernetes` child: the same transport as runner serve's)
// with 50 leg pods running at once (a matrix of sleeping legs, --jobs 50).
// It reports the child's VmRSS with one pod running and with all of
// them, its VmHWM, how long the 50 pods took to run, and how long a
// cancel (SIGINT) took to end the run and delete them.
func BenchmarkControllerRSS(b *testing.B) {
	const n = 50
	c := kubetest.Shared(b)
	tr := benchTransport(b, c)
	ns := tr.Client.Namespace
	dir := b.TempDir()
	legs := make([]string, n)
	for i := range legs {
		legs[i] = strconv.Itoa(i)
	}
	wf := filepath.Join(dir, "wide.yaml")
	cfg := filepath.Join(dir, "executor.yaml")
	for f, data := range map[string]string{
		wf:  "on: push\njobs:\n  wide:\n    runs-on: x\n    strategy:\n      matrix:\n        leg: [" + strings.Join(legs, ", ") + "]\n    steps:\n      - run: sleep 600\n",
		cfg: "grace: 2s\nstart-timeout: 10m\n",
	} {
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < b.N; i++ {
		var out strings.Builder
		cmd := exec.Command(runnerBin, "exec", "--executor", "kubernetes", "--executor-config", cfg,
			"--kubeconfig", c.Kubeconfig, "--namespace", ns, "--image", tr.Config.Image,
			"--jobs", strconv.Itoa(n), "--cancel-timeout", "5s", "--state", filepath.Join(dir, "state"), wf)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &out
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		pid := cmd.Process.Pid
		ctx := context.Background()
		var rssOne, rssAll float64
		var allAt time.Duration
		for rssAll == 0 {
			select {
			case err := <-exited:
				b.Fatalf("runner exec ended before its pods ran: %v\n%s", err, out.String())
			case <-time.After(250 * time.Millisecond):
			}
			running, _ := runningLegs(ctx, c, ns)
			switch {
			case running >= 1 && rssOne == 0:
				rssOne = procMB(pid, "VmRSS")
			case running == n:
				allAt = time.Since(t0)
				// A few seconds with every leg running and streaming.
				time.Sleep(5 * time.Second)
				rssAll = procMB(pid, "VmRSS")
			}
			if time.Since(t0) > 10*time.Minute {
				cmd.Process.Kill()
				b.Fatalf("%d of %d pods running after 10 minutes", running, n)
			}
		}
		hwm := procMB(pid, "VmHWM")
		t1 := time.Now()
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Minute):
			cmd.Process.Kill()
			b.Fatalf("runner exec did not end 5 minutes after SIGINT:\n%s", out.String())
		}
		for {
			if _, all := runningLegs(ctx, c, ns); all == 0 {
				break
			}
			if time.Since(t1) > 5*time.Minute {
				b.Fatalf("pods left 5 minutes after the cancel")
			}
			time.Sleep(250 * time.Millisecond)
		}
		b.ReportMetric(n, "pods")
		b.ReportMetric(allAt.Seconds(), "all-running-s")
		b.ReportMetric(rssOne, "rss-1pod-MiB")
		b.ReportMetric(rssAll, "rss-MiB")
		b.ReportMetric(hwm, "hwm-MiB")
		b.ReportMetric(time.Since(t1).Seconds(), "cancel-s")
	}
}

// BenchmarkDockerStep: what a docker:// step costs on the Kubernetes
// executor (an ephemeral container of the job's pod) and locally (runc):
// a job of six such steps against one of six run: steps, the image
// already on the node and in the local image cache; kube-step-s and
// local-step-s are the difference per step.
func BenchmarkDockerStep(b *testing.B) {
	c := kubetest.Shared(b)
	tr := benchTransport(b, c)
	const n = 6
	docker, plain := "on: push\njobs:\n  d:\n    runs-on: x\n    steps:\n", "on: push\njobs:\n  d:\n    runs-on: x\n    steps:\n"
	for i := 0; i < n; i++ {
		docker += "      - uses: docker://busybox\n        with: {entrypoint: /bin/true}\n"
		plain += "      - run: 'true'\n"
	}
	local := run.Options{Settings: steps.Settings{RegistryMirror: "docker.io=http://" + c.RegistryAddr}, StateDir: b.TempDir()}
	kube := run.Options{Remote: tr.Legs()}
	// Warm: the node and the local cache get the image.
	benchRun(b, docker, kube)
	benchRun(b, docker, local)
	wall := func(src string, o run.Options) time.Duration {
		t0 := time.Now()
		benchRun(b, src, o)
		return time.Since(t0)
	}
	for i := 0; i < b.N; i++ {
		kd, kp := wall(docker, kube), wall(plain, kube)
		ld, lp := wall(docker, local), wall(plain, local)
		b.ReportMetric((kd-kp).Seconds()/n, "kube-step-s")
		b.ReportMetric((ld-lp).Seconds()/n, "local-step-s")
		b.ReportMetric(float64(kd-kp)/float64(ld-lp), "ratio")
	}
}
