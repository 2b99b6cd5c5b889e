package render

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/birdflock/runner/pkg/testenv"
)

// referencePython is Debian's interpreter, which has python3-jinja2; the
// python3 on PATH may be another one without it.
const referencePython = "/usr/bin/python3"

// needJinja2 returns the reference interpreter, skipping the test when it
// or Jinja2 is missing, except under CI where that is a failure.
func needJinja2(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command(referencePython, "-c", "import jinja2; print(jinja2.__version__)").CombinedOutput()
	if err != nil {
		msg := "reference " + referencePython + " with jinja2 is missing (apt-get install python3-jinja2): " + string(bytes.TrimSpace(out))
		testenv.Missing(tb, "%s", msg)
	}
	return referencePython
}

type refResult struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Out  string `json:"out"`
	Err  string `json:"err"`
}

// renderReference renders names (relative to root) with Jinja2 and
// jinjanator's settings through testdata/jinja_render.py.
func renderReference(tb testing.TB, root, dataFile string, names []string) map[string]refResult {
	tb.Helper()
	py := needJinja2(tb)
	driver, err := filepath.Abs("testdata/jinja_render.py")
	if err != nil {
		tb.Fatal(err)
	}
	args := append([]string{driver, root, dataFile}, names...)
	cmd := exec.Command(py, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("reference renderer: %v\n%s", err, stderr.String())
	}
	var results []refResult
	if err := json.Unmarshal(out, &results); err != nil {
		tb.Fatalf("reference renderer output: %v", err)
	}
	m := make(map[string]refResult, len(results))
	for _, r := range results {
		m[r.Name] = r
	}
	return m
}
