package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// runner exec --executor process runs every leg in a child runner job
// --stdio: same output and exit codes as a local run, also outside a git
// repository; a wrong executor and a bare `runner job` are usage errors.
func TestExecExecutorProcess(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	wf := writeFile(t, dir, "w.yaml", `on: push
jobs:
  a:
    runs-on: x
    outputs:
      v: ${{ steps.s.outputs.v }}
    steps:
      - id: s
        run: echo "v=from-a" >> "$GITHUB_OUTPUT"
  b:
    needs: a
    runs-on: x
    steps:
      - run: echo "b got ${{ needs.a.outputs.v }}"
      - run: exit 4
`)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"exec", wf, "--executor", "process"}, 1, "b got from-a"},
		{[]string{"exec", wf, "--executor", "process"}, 1, "exit code 4"},
		{[]string{"exec", wf, "--executor", "pods"}, 2, `--executor "pods": want local, process or kubernetes`},
		{[]string{"job"}, 2, "--stdio is the only mode"},
	} {
		args := c.args
		if args[0] == "exec" {
			args = append(args, "--state", filepath.Join(dir, "state"))
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if got := exitCode(err); got != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("runner %v: exit %d, want %d with %q\n%s", c.args, got, c.code, c.want, out)
		}
	}
}

// runner job takes a node copied beside it from RUNNER_BUNDLED_NODE (what
// a pod's job container: is given) and runs JavaScript actions with it,
// before the PATH's; the variable is not passed on to the steps. The tool
// cache is the one the environment names (AGENT_TOOLSDIRECTORY, as
// GitHub's runner takes it), made before the steps.
func TestJobBundledNodeFromEnv(t *testing.T) {
	bin := buildRunner(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (package nodejs): %v", err)
	}
	dir := t.TempDir()
	bundled := filepath.Join(dir, "bundled-node")
	if err := os.Symlink(node, bundled); err != nil {
		t.Fatal(err)
	}
	wf := `on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          mkdir act
          printf 'name: js\nruns:\n  using: node20\n  main: index.js\n' > act/action.yml
          echo "console.log('js ran')" > act/index.js
      - uses: ./act
      - run: echo "the step sees [$RUNNER_BUNDLED_NODE]"
      - run: test -d "$RUNNER_TOOL_CACHE" && echo "tool cache ${{ runner.tool_cache }}"
`
	spec, _ := json.Marshal(map[string]any{"Version": run.WireVersion, "Workflow": []byte(wf), "File": "w.yaml", "Job": "a", "Key": "a", "Dir": "a", "Run": 1})
	cmd := exec.Command(bin, "job", "--stdio")
	cmd.Dir = dir
	tools := filepath.Join(dir, "hostedtoolcache")
	cmd.Env = append(os.Environ(), "RUNNER_BUNDLED_NODE="+bundled, "RUNNER_STATE="+filepath.Join(dir, "state"), "AGENT_TOOLSDIRECTORY="+tools)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	var in bytes.Buffer
	in.Write(append(spec, '\n'))
	tar.NewWriter(&in).Close() // no source, no artifacts
	if _, err := stdin.Write(in.Bytes()); err != nil {
		t.Fatal(err)
	}
	var frames strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		frames.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), `"Result"`) {
			break
		}
	}
	got := frames.String()
	if !strings.Contains(got, `"Result":"success"`) || !strings.Contains(got, "at "+bundled) || !strings.Contains(got, "the step sees []") || !strings.Contains(got, "tool cache "+tools) {
		t.Errorf("runner job with RUNNER_BUNDLED_NODE: frames\n%s", got)
	}
}
