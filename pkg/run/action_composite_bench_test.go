package run_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/run"
)

// BenchmarkCompositeStep runs 300 steps that use a composite action of one
// `run: 'true'` step and, in the same invocation, 300 plain `run: 'true'`
// steps (same shell); ratio = composite / plain (target ≤ 1.3).
func BenchmarkCompositeStep(b *testing.B) {
	const n = 300
	repo := b.TempDir()
	action := "runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: 'true'\n"
	if err := os.MkdirAll(filepath.Join(repo, "c"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "c", "action.yml"), []byte(action), 0o644); err != nil {
		b.Fatal(err)
	}
	head := "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: cp -R \"$REPO/.\" .\n"
	composite := loadBench(b, head+strings.Repeat("      - uses: ./c\n", n))
	plain := loadBench(b, head+strings.Repeat("      - run: 'true'\n        shell: bash\n", n))
	trig := run.Trigger{Env: map[string]string{"REPO": repo}}
	one := func(src *run.Plan) time.Duration {
		start := time.Now()
		res, err := run.Run(context.Background(), src, run.Options{StateDir: b.TempDir(), Out: io.Discard, Parallel: 1})
		if err != nil || res.Conclusion != "success" {
			b.Fatalf("run: %v %+v", err, res)
		}
		return time.Since(start)
	}
	cPlan, err := run.NewPlan(composite, trig)
	if err != nil {
		b.Fatal(err)
	}
	pPlan, err := run.NewPlan(plain, trig)
	if err != nil {
		b.Fatal(err)
	}
	var c, p time.Duration
	for i := 0; i < b.N; i++ {
		c += one(cPlan)
		p += one(pPlan)
	}
	b.ReportMetric(c.Seconds()/float64(b.N), "composite-s")
	b.ReportMetric(p.Seconds()/float64(b.N), "plain-s")
	b.ReportMetric(float64(c)/float64(p), "ratio")
}
