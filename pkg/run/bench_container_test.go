package run_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// recorder keeps a run's events.
type recorder struct {
	mu     sync.Mutex
	events []run.Event
}

func (r *recorder) Observe(e run.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// at is the time of the first event of kind whose step (StepStarted,
// StepEnded) or text (Line) has the prefix; last picks the last one.
func (r *recorder) at(b *testing.B, kind run.EventKind, prefix string, last bool) time.Time {
	b.Helper()
	var t time.Time
	for _, e := range r.events {
		s := e.Step
		if kind == run.Line || kind == run.JobStarted {
			s = e.Text
		}
		if e.Kind == kind && strings.HasPrefix(s, prefix) {
			t = e.Time
			if !last {
				return t
			}
		}
	}
	if t.IsZero() {
		b.Fatalf("no %v event %q", kind, prefix)
	}
	return t
}

// runRecorded runs src once with state dir state and returns its events.
func runRecorded(b *testing.B, src, state string) *recorder {
	b.Helper()
	builtins := steps.Default()
	w, errs := workflow.Load("bench.yaml", []byte(src), workflow.Options{Builtins: builtins})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	plan, err := run.NewPlan(w, run.Trigger{Event: "push"})
	if err != nil {
		b.Fatal(err)
	}
	rec := &recorder{}
	res, err := run.Run(context.Background(), plan, run.Options{StateDir: state, Observer: rec, Builtins: builtins, Parallel: 1})
	if err != nil || res.Conclusion != "success" {
		var lines []string
		for _, e := range rec.events {
			lines = append(lines, e.Step+" "+e.Text)
		}
		b.Fatalf("run: %v %v\n%s", err, res.Conclusion, strings.Join(lines, "\n"))
	}
	return rec
}

// benchRedisImage pushes the redis stand-in (bash, redis-cli,
// redis-server) to a loopback registry.
func benchRedisImage(b *testing.B) (string, v1.Image) {
	b.Helper()
	ct.Require(b, ct.Root, ct.Runc, ct.Busybox, ct.Redis)
	img := ct.RedisImage(b)
	return ct.Push(b, img, ct.Registry(b), "library/redis", "7"), img
}

// BenchmarkContainerJob times, in one invocation, a job of 50 `run:
// 'true'` steps in a container job (bash image, cached) and on the host:
// the wall time per step from the first step's start to the last one's
// end (step-extra-ms = container − host; target ≤ 15 ms), and the run's
// start to the job's first step (container-setup-s, target ≤ 0.5 s; host-setup-s
// beside it).
func BenchmarkContainerJob(b *testing.B) {
	ref, _ := benchRedisImage(b)
	const n = 50
	steps := strings.Repeat("      - {name: s, run: 'true'}\n", n)
	ctrSrc := fmt.Sprintf("on: push\njobs:\n  c:\n    runs-on: x\n    container: %s\n    steps:\n%s", ref, steps)
	hostSrc := "on: push\njobs:\n  c:\n    runs-on: x\n    steps:\n" + steps
	state := b.TempDir()
	runRecorded(b, ctrSrc, state) // unpacks the image once: the timed runs find it cached
	var ctrStep, hostStep, ctrSetup, hostSetup time.Duration
	for i := 0; i < b.N; i++ {
		for _, c := range []struct {
			src         string
			step, setup *time.Duration
		}{{ctrSrc, &ctrStep, &ctrSetup}, {hostSrc, &hostStep, &hostSetup}} {
			rec := runRecorded(b, c.src, state)
			first := rec.at(b, run.StepStarted, "s", false)
			*c.step += rec.at(b, run.StepEnded, "s", true).Sub(first) / n
			*c.setup += first.Sub(rec.at(b, run.RunStarted, "", false))
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(b.N) / float64(time.Millisecond) }
	b.ReportMetric(ms(ctrStep), "container-step-ms")
	b.ReportMetric(ms(hostStep), "host-step-ms")
	b.ReportMetric(ms(ctrStep-hostStep), "step-extra-ms")
	b.ReportMetric(ms(ctrSetup)/1000, "container-setup-s")
	b.ReportMetric(ms(hostSetup)/1000, "host-setup-s")
}

// BenchmarkRedisServiceHealthy times a Redis service from "Start
// service" to "is healthy" with its image in runner's image cache (the
// manifest fetched from a loopback registry, an overlay, a network
// namespace, runc, `redis-cli ping` health checks) against the same work
// by hand on the same unpacked image: `runc run -d` of a bundle in a
// network namespace of its own, then `runc exec … /bin/sh -c "redis-cli
// ping"` back to back (no pause: tighter than any interval docker
// allows) until one exits 0. By hand is done twice: with runner's own
// config.json (copied by the job's step; its root and network namespace
// replaced, the image's process as pid 1: "the same bundle", Docker's
// seccomp profile, capabilities and cgroup limits included) and with the
// config `runc spec` writes (no seccomp filter, no cgroup limits). The
// three alternate, each iteration in another order, so that the load of
// the shared machine falls on all alike; -benchtime 20x or more.
// Reported: the medians and 90th percentiles (runner-p50-s,
// runner-p90-s, hand-p50-s, hand-p90-s for the same bundle,
// hand-plain-p50-s, hand-plain-p90-s), ratio = runner median / hand
// median (target ≤ 1.2), ratio-plain against `runc spec`'s,
// runner-started-p50-s (up to the container's start) and runner-cold-s
// (the first run, which also pulls and unpacks). -v logs every sample.
func BenchmarkRedisServiceHealthy(b *testing.B) {
	ref, img := benchRedisImage(b)
	cfgDir := b.TempDir()
	src := fmt.Sprintf(`on: push
jobs:
  c:
    runs-on: x
    services:
      redis:
        image: %s
        ports: ['6379']
        options: --health-cmd "redis-cli ping" --health-interval 1s
    steps:
      - run: cp %s/${{ job.services.redis.id }}/config.json %s/
`, ref, container.DefaultDir(), cfgDir)
	cache := &container.ImageCache{Dir: filepath.Join(b.TempDir(), "images")}
	cached, err := cache.Get(context.Background(), ref, func(context.Context, string) (v1.Image, error) { return img, nil })
	if err != nil {
		b.Fatal(err)
	}
	state := b.TempDir()
	runner := func() (healthy, started time.Duration) {
		rec := runRecorded(b, src, state)
		begin := rec.at(b, run.Line, "Start service redis", false)
		return rec.at(b, run.Line, "Service redis is healthy", false).Sub(begin),
			rec.at(b, run.Line, "Service redis: container", false).Sub(begin)
	}
	cold, _ := runner() // pulls and unpacks into the image cache
	runnerCfg, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	if err != nil {
		b.Fatal(err)
	}
	// Warm runc's and redis's pages as the first run did runner's.
	runcRedisByHand(b, cached, runnerCfg)
	runcRedisByHand(b, cached, nil)
	var ours, same, plain, starts []time.Duration
	for i := 0; i < b.N; i++ {
		for j := 0; j < 3; j++ {
			switch (i + j) % 3 {
			case 0:
				h, s := runner()
				ours, starts = append(ours, h), append(starts, s)
			case 1:
				same = append(same, runcRedisByHand(b, cached, runnerCfg))
			default:
				plain = append(plain, runcRedisByHand(b, cached, nil))
			}
		}
	}
	b.Logf("runner (s): %s", seconds(ours))
	b.Logf("runner to started (s): %s", seconds(starts))
	b.Logf("by hand, the same bundle (s): %s", seconds(same))
	b.Logf("by hand, runc spec's config (s): %s", seconds(plain))
	b.ReportMetric(cold.Seconds(), "runner-cold-s")
	b.ReportMetric(quantile(ours, 0.5).Seconds(), "runner-p50-s")
	b.ReportMetric(quantile(ours, 0.9).Seconds(), "runner-p90-s")
	b.ReportMetric(quantile(starts, 0.5).Seconds(), "runner-started-p50-s")
	b.ReportMetric(quantile(same, 0.5).Seconds(), "hand-p50-s")
	b.ReportMetric(quantile(same, 0.9).Seconds(), "hand-p90-s")
	b.ReportMetric(quantile(plain, 0.5).Seconds(), "hand-plain-p50-s")
	b.ReportMetric(quantile(plain, 0.9).Seconds(), "hand-plain-p90-s")
	b.ReportMetric(float64(quantile(ours, 0.5))/float64(quantile(same, 0.5)), "ratio")
	b.ReportMetric(float64(quantile(ours, 0.5))/float64(quantile(plain, 0.5)), "ratio-plain")
}

// quantile is the q-th quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// seconds lists ds in the order measured.
func seconds(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.3f", d.Seconds()))
	}
	return strings.Join(parts, " ")
}

// runcRedisByHand does by hand what a service with `--health-cmd
// "redis-cli ping"` needs: a bundle over the unpacked image (read-only)
// with cfg as its config.json (runner's: its root, network namespace,
// process arguments and agent mount replaced) or, when cfg is nil, the
// one `runc spec` writes with the image's Cmd, Env and WorkingDir; a
// network namespace with its loopback up (`ip netns add`, made before the
// clock starts); `runc run -d`, then `runc exec ID /bin/sh -c "redis-cli
// ping"` (docker's CMD-SHELL form, as runner runs it) back to back until
// one exits 0. It returns the time from `runc run -d` to that exit.
func runcRedisByHand(b *testing.B, img container.CachedImage, cfg []byte) time.Duration {
	b.Helper()
	runc := ct.RuncPath()
	bundle := b.TempDir()
	if cfg == nil {
		if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
			b.Fatalf("runc spec: %v: %s", err, out)
		}
		var err error
		if cfg, err = os.ReadFile(filepath.Join(bundle, "config.json")); err != nil {
			b.Fatal(err)
		}
	}
	id := fmt.Sprintf("bench-redis-%d", os.Getpid())
	netns := id
	if out, err := exec.Command("ip", "netns", "add", netns).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add: %v: %s", err, out)
	}
	defer func() { _ = exec.Command("ip", "netns", "delete", netns).Run() }()
	if out, err := exec.Command("ip", "-n", netns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		b.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	var spec map[string]any
	if err := json.Unmarshal(cfg, &spec); err != nil {
		b.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = anys(append(append([]string{}, img.Config.Entrypoint...), img.Config.Cmd...))
	if _, ok := proc["env"]; !ok || len(proc["env"].([]any)) <= 1 { // runc spec's: PATH and TERM
		proc["env"] = anys(img.Config.Env)
		proc["cwd"] = cmp.Or(img.Config.WorkingDir, "/")
	}
	spec["root"] = map[string]any{"path": img.Rootfs, "readonly": true}
	var mounts []any
	for _, m := range spec["mounts"].([]any) {
		if !strings.HasPrefix(m.(map[string]any)["destination"].(string), "/__e") { // runner's agent
			mounts = append(mounts, m)
		}
	}
	spec["mounts"] = mounts
	linux := spec["linux"].(map[string]any)
	var ns []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] == "network" {
			n = map[string]any{"type": "network", "path": "/run/netns/" + netns}
		}
		ns = append(ns, n)
	}
	linux["namespaces"] = ns
	raw, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), raw, 0o644); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = exec.Command(runc, "delete", "--force", id).Run()
	}()
	// Files, not pipes: the detached container keeps its stdio open, and
	// Run would wait for a pipe's end.
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	start := time.Now()
	cmd := exec.Command(runc, "run", "-d", "--bundle", bundle, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	if err := cmd.Run(); err != nil {
		b.Fatalf("runc run: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if exec.Command(runc, "exec", id, "/bin/sh", "-c", "redis-cli ping").Run() == nil {
			return time.Since(start)
		}
	}
	b.Fatal("redis-cli ping did not succeed within 10s")
	return 0
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
