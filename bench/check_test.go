package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// actionlintVersion is the actionlint release BenchmarkCheck compares with.
const actionlintVersion = "v1.7.12"

// checkFiles is how many workflows BenchmarkCheck checks: the golden corpus
// of pkg/workflow/testdata repeated.
const checkFiles = 1000

// actionlint builds github.com/rhysd/actionlint's command into
// .cache/actionlint-VERSION (through the Go module cache and proxy, once).
// It skips the benchmark, saying why, when the module cannot be fetched.
func actionlint(b *testing.B, root string) string {
	dir := filepath.Join(root, ".cache", "actionlint-"+actionlintVersion)
	bin := filepath.Join(dir, "actionlint")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", "github.com/rhysd/actionlint/cmd/actionlint@"+actionlintVersion)
	cmd.Dir = b.TempDir() // outside runner's module: go install pkg@version ignores it anyway
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("cannot build actionlint %s from the Go module proxy (no network?): %v\n%s", actionlintVersion, err, out)
	}
	return bin
}

// BenchmarkCheck runs `bin/runner check` and actionlint (shellcheck and
// pyflakes off) on the same 1,000 workflows, each tool once per iteration
// as one process over the whole directory, and reports the ratio of their
// wall times and of their CPU times (issue 16's target: runner at least as
// fast, ratio ≥ 1).
func BenchmarkCheck(b *testing.B) {
	root := repoRoot(b)
	runner := filepath.Join(root, "bin", "runner")
	if _, err := os.Stat(runner); err != nil {
		b.Fatalf("%v (make bench builds it)", err)
	}
	al := actionlint(b, root)

	all, _ := filepath.Glob(filepath.Join(root, "pkg", "workflow", "testdata", "*", "*.y*ml"))
	var golden []string
	for _, f := range all {
		// alias_bomb.yaml expands to billions of nodes: runner refuses it
		// at its alias limit, actionlint runs out of memory on it.
		if filepath.Base(f) != "alias_bomb.yaml" {
			golden = append(golden, f)
		}
	}
	if len(golden) == 0 {
		b.Fatal("no golden workflows under pkg/workflow/testdata")
	}
	dir := filepath.Join(b.TempDir(), "workflows")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	var files []string
	for i := 0; i < checkFiles; i++ {
		src := golden[i%len(golden)]
		data, err := os.ReadFile(src)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("%04d-%s", i, filepath.Base(src))
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, name)
	}

	// run returns the wall and CPU time of one check of the directory. Both tools
	// exit 1 on problems (the corpus holds the err goldens); 2 or more is
	// a failure of the tool.
	run := func(args ...string) (wall, cpu time.Duration) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		if code := cmd.ProcessState.ExitCode(); err != nil && code != 1 {
			b.Fatalf("%s: %v\n%.2000s", args[0], err, out)
		}
		return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	runnerArgs := append([]string{runner, "check"}, files...)
	alArgs := append([]string{al, "-shellcheck=", "-pyflakes=", "-no-color"}, files...)
	run(runnerArgs...) // warm the page cache for both
	run(alArgs...)

	// Wall time and CPU time: on a loaded machine CPU time is the steadier.
	var ours, ref, oursCPU, refCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, c := run(runnerArgs...)
		ours, oursCPU = ours+w, oursCPU+c
		w, c = run(alArgs...)
		ref, refCPU = ref+w, refCPU+c
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "runner-ms")
	b.ReportMetric(float64(ref.Milliseconds())/float64(b.N), "actionlint-ms")
	b.ReportMetric(float64(ref)/float64(ours), "x-faster")
	b.ReportMetric(float64(refCPU)/float64(oursCPU), "x-faster-cpu")
	b.ReportMetric(float64(len(files)), "workflows")
}
