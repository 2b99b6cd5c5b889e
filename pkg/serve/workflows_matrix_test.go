package serve_test

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// Issue 12 #2: listing workflows expanded their matrices; a small
// workflow made one GET /api/workflows take gigabytes. The listing checks
// a matrix's size from its vectors' lengths and never computes legs.
func TestWorkflowsListingDoesNotExpandMatrices(t *testing.T) {
	vals := make([]string, 16384)
	for i := range vals {
		vals[i] = "1"
	}
	bomb := "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        a: [" + strings.Join(vals, ",") + "]\n        b: [" + strings.Join(vals[:40], ",") + "]\n    steps: [{run: echo}]\n"
	// Legs would show that exclude leaves nothing; the listing does not look.
	empty := "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix: {a: [1], exclude: [{a: 1}]}\n    steps: [{run: echo}]\n"
	s := start(t, serve.Config{}, newRepo(t, map[string]string{".github/workflows/bomb.yaml": bomb, ".github/workflows/empty.yaml": empty}), 0)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, body := do(t, http.MethodGet, s.URL+"/api/workflows", token, nil)
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	errs := map[string]any{}
	for _, wf := range list {
		errs[wf["file"].(string)] = wf["error"]
	}
	if e, _ := errs["bomb.yaml"].(string); !strings.Contains(e, `bomb.yaml:7:9: job "a": matrix has 655360 combinations; GitHub's limit is 256 [matrix]`) {
		t.Errorf("bomb.yaml: error %v", errs["bomb.yaml"])
	}
	if e, ok := errs["empty.yaml"]; !ok || e != nil {
		t.Errorf("empty.yaml: error %v (present %v)", e, ok)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("GET /api/workflows allocated %d MB", n>>20)
	}
}
