package run_test

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/workflow"
)

func loadBench(b *testing.B, src string) *workflow.Workflow {
	w, errs := workflow.Load("bench.yaml", []byte(src), workflow.Options{})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return w
}

func runBench(b *testing.B, w *workflow.Workflow, parallel int) time.Duration {
	start := time.Now()
	plan, err := run.NewPlan(w, run.Trigger{})
	if err != nil {
		b.Fatal(err)
	}
	res, err := run.Run(context.Background(), plan, run.Options{StateDir: b.TempDir(), Out: io.Discard, Parallel: parallel})
	if err != nil || res.Conclusion != "success" {
		b.Fatalf("run: %v %v", err, res)
	}
	return time.Since(start)
}

// BenchmarkTrueSteps runs 500 `run: 'true'` steps and, in the same
// invocation, 500 bare bash starts; ratio = runner / bash (target ≤ 1.3).
func BenchmarkTrueSteps(b *testing.B) {
	w := loadBench(b, "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"+strings.Repeat("      - run: 'true'\n", 500))
	var engine, bash time.Duration
	for i := 0; i < b.N; i++ {
		engine += runBench(b, w, 1)
		start := time.Now()
		for j := 0; j < 500; j++ {
			if err := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", "true").Run(); err != nil {
				b.Fatal(err)
			}
		}
		bash += time.Since(start)
	}
	b.ReportMetric(engine.Seconds()/float64(b.N), "runner-s")
	b.ReportMetric(bash.Seconds()/float64(b.N), "bash-s")
	b.ReportMetric(float64(engine)/float64(bash), "ratio")
}

// BenchmarkParallelSleep runs 8 independent jobs that sleep 1 s with 8
// jobs at once (target wall ≤ 1.2 s).
func BenchmarkParallelSleep(b *testing.B) {
	src := "on: push\njobs:\n"
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		src += "  " + id + ":\n    runs-on: x\n    steps: [{run: sleep 1}]\n"
	}
	w := loadBench(b, src)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		total += runBench(b, w, 8)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "wall-s")
}
