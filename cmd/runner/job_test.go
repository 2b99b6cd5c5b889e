package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
