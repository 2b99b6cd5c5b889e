package serve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// capacity counts jobs at once over all runs, as the issue asks: two runs
// of two parallel jobs under capacity 2 never run more than 2 jobs at
// once, while two runs whose jobs form a chain (one job at a time) run
// side by side.
func TestCapacityCountsJobs(t *testing.T) {
	dir := t.TempDir()
	// Each job marks itself running, records how many are, and waits.
	step := fmt.Sprintf(`touch %[1]s/r${{ github.run_id }}-${{ github.job }}; ls %[1]s | grep -c '^r' >> %[2]s/counts; sleep 1; rm %[1]s/r${{ github.run_id }}-${{ github.job }}`,
		filepath.Join(dir, "running"), dir)
	os.Mkdir(filepath.Join(dir, "running"), 0o755)
	wide := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: " + step + "\n  b:\n    runs-on: x\n    steps:\n      - run: " + step + "\n"
	chain := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: sleep 1\n  b:\n    needs: a\n    runs-on: x\n    steps:\n      - run: sleep 1\n"
	s := start(t, serve.Config{Capacity: 2, Jobs: 2}, birds(t, map[string]string{".github/workflows/wide.yaml": wide, ".github/workflows/chain.yaml": chain}), 0)
	r1, _, _ := s.dispatch(t, "wide.yaml", nil)
	r2, _, _ := s.dispatch(t, "wide.yaml", nil)
	for _, id := range []int{r1, r2} {
		must(t, s.done(t, id).conclusion() == "success", "run %d:\n%s", id, s.logText(t, id))
	}
	data, _ := os.ReadFile(filepath.Join(dir, "counts"))
	most := 0
	for _, f := range strings.Fields(string(data)) {
		n, _ := strconv.Atoi(f)
		most = max(most, n)
	}
	must(t, most >= 1 && most <= 2, "jobs at once under capacity 2: %d (counts %q)", most, data)

	c1, _, _ := s.dispatch(t, "chain.yaml", nil)
	c2, _, _ := s.dispatch(t, "chain.yaml", nil)
	s.wait(t, c2, "start beside the other chain", func(r runJSON) bool {
		return r.Status == "in_progress" && s.run(t, c1).Status == "in_progress"
	})
	_, m := do(t, "GET", s.URL+"/metrics", token, nil)
	must(t, strings.Contains(string(m), "runner_job_slots_used 2\n") && strings.Contains(string(m), "runner_capacity 2\n"), "metrics while two chains run:\n%s", m)
	s.done(t, c1)
	s.done(t, c2)
	s.wait(t, c2, "its slots to return", func(runJSON) bool {
		_, m := do(t, "GET", s.URL+"/metrics", token, nil)
		return strings.Contains(string(m), "runner_job_slots_used 0\n")
	})
}
