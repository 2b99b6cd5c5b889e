package run_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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

// BenchmarkRedisServiceHealthy times, in one invocation, a Redis service
// from "Start service" to "is healthy" with its image in runner's image
// cache (the manifest fetched from a loopback registry, an overlay, runc,
// `redis-cli ping` health checks; runner-started-s is the part up to the
// container's start; runner-cold-s the first run, which also unpacks) and the same image's
// bundle (already unpacked) run by hand: `runc run -d`, then `runc exec
// … redis-cli ping` until PONG. ratio = runner / hand (target ≤ 1.2).
func BenchmarkRedisServiceHealthy(b *testing.B) {
	ref, img := benchRedisImage(b)
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
      - run: 'true'
`, ref)
	cache := &container.ImageCache{Dir: filepath.Join(b.TempDir(), "images")}
	cached, err := cache.Get(context.Background(), ref, func(context.Context, string) (v1.Image, error) { return img, nil })
	if err != nil {
		b.Fatal(err)
	}
	healthy := func(rec *recorder) time.Duration {
		return rec.at(b, run.Line, "Service redis is healthy", false).Sub(rec.at(b, run.Line, "Start service redis", false))
	}
	state := b.TempDir()
	cold := healthy(runRecorded(b, src, state)) // pulls and unpacks into the image cache
	var runner, setup, hand time.Duration
	for i := 0; i < b.N; i++ {
		rec := runRecorded(b, src, state)
		begin := rec.at(b, run.Line, "Start service redis", false)
		runner += rec.at(b, run.Line, "Service redis is healthy", false).Sub(begin)
		setup += rec.at(b, run.Line, "Service redis: container", false).Sub(begin)
		hand += runcRedisByHand(b, cached)
	}
	b.ReportMetric(cold.Seconds(), "runner-cold-s")
	b.ReportMetric(runner.Seconds()/float64(b.N), "runner-s")
	// pull, unpack and runc start; the rest is the wait for health.
	b.ReportMetric(setup.Seconds()/float64(b.N), "runner-started-s")
	b.ReportMetric(hand.Seconds()/float64(b.N), "runc-s")
	b.ReportMetric(float64(runner)/float64(hand), "ratio")
}

// runcRedisByHand runs redis-server from the unpacked image with runc
// (the spec `runc spec` writes, host network, a free port) and returns
// the time from `runc run -d` to the first PONG of `runc exec`.
func runcRedisByHand(b *testing.B, img container.CachedImage) time.Duration {
	b.Helper()
	runc := ct.RuncPath()
	bundle := b.TempDir()
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		b.Fatalf("runc spec: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	var spec map[string]any
	raw, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		b.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = append(append([]any{}, anys(img.Config.Cmd)...), "--port", port)
	proc["env"] = anys(img.Config.Env)
	proc["cwd"] = img.Config.WorkingDir
	spec["root"] = map[string]any{"path": img.Rootfs, "readonly": true}
	linux := spec["linux"].(map[string]any)
	var ns []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] != "network" {
			ns = append(ns, n)
		}
	}
	linux["namespaces"] = ns
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), raw, 0o644); err != nil {
		b.Fatal(err)
	}
	id := fmt.Sprintf("bench-redis-%d", os.Getpid())
	defer func() {
		_ = exec.Command(runc, "delete", "--force", id).Run()
	}()
	start := time.Now()
	// Files, not pipes: the detached container keeps its stdio open, and
	// Run would wait for a pipe's end.
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command(runc, "run", "-d", "--bundle", bundle, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	if err := cmd.Run(); err != nil {
		b.Fatalf("runc run: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		out, _ := exec.Command(runc, "exec", id, "redis-cli", "-p", port, "ping").Output()
		if strings.TrimSpace(string(out)) == "PONG" {
			return time.Since(start)
		}
	}
	b.Fatal("redis did not answer PONG within 10s")
	return 0
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
