package run_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkNodeAction runs 20 steps of a no-op JavaScript action and, in
// the same invocation, 20 bare node starts (an empty -e script); ratio =
// runner / node (target ≤ 1.2). Short rounds, alternated: on a shared
// machine the load changes from second to second; -benchtime 10x or more
// evens it out.
func BenchmarkNodeAction(b *testing.B) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node is not on the PATH: apt-get install nodejs")
	}
	src, err := filepath.Abs("testdata/jsactions/noop")
	if err != nil {
		b.Fatal(err)
	}
	const n = 20
	w := loadBench(b, "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: cp -r '"+src+"' noop\n"+strings.Repeat("      - uses: ./noop\n", n))
	var engine, bare time.Duration
	for i := 0; i < b.N; i++ {
		engine += runBench(b, w, 1)
		start := time.Now()
		for j := 0; j < n; j++ {
			if err := exec.Command(node, "-e", "").Run(); err != nil {
				b.Fatal(err)
			}
		}
		bare += time.Since(start)
	}
	b.ReportMetric(engine.Seconds()/float64(b.N), "runner-s")
	b.ReportMetric(bare.Seconds()/float64(b.N), "node-s")
	b.ReportMetric(float64(engine)/float64(bare), "ratio")
}
