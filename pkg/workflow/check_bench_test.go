package workflow_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// BenchmarkCheck checks every workflow of the golden corpus (testdata ok,
// warn and err) once per iteration: what `runner check` costs per file.
func BenchmarkCheck(b *testing.B) {
	files, _ := filepath.Glob("testdata/*/*.y*ml")
	var data [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
	}
	opts := workflow.Options{Builtins: steps.Default()}
	b.ResetTimer()
	for range b.N {
		for i, d := range data {
			workflow.Check(files[i], d, opts)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(data)), "µs/file")
}
