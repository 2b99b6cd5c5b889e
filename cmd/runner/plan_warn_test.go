package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runner plan warns (exit 0) about untrusted values in run: scripts and
// refuses (exit 2) a matrix over the limit without expanding it (issue 12
// #2 and #17).
func TestPlanWarningsAndMatrixLimit(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("inject.yaml", "on: {workflow_dispatch: {inputs: {x: {type: string}}}}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"${{ inputs.x }}\"\n      - env: {X: '${{ inputs.x }}'}\n        run: echo \"$X\"\n")
	write("clean.yaml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'echo ${{ github.sha }}'}]\n")
	vals := make([]string, 16384)
	for i := range vals {
		vals[i] = "1"
	}
	write("bomb.yaml", "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        a: ["+strings.Join(vals, ",")+"]\n        b: ["+strings.Join(vals[:1000], ",")+"]\n    steps: [{run: echo}]\n")
	for _, c := range []struct {
		file, want string
		code       int
	}{
		{"inject.yaml", `inject.yaml:6:24: warning: job a step 1: "inputs.x" is potentially untrusted`, 0},
		{"clean.yaml", "", 0},
		{"bomb.yaml", `bomb.yaml:7:9: job "a": matrix has 16384000 combinations; GitHub's limit is 256 [matrix]`, 2},
	} {
		cmd := exec.Command(bin, "plan", c.file)
		cmd.Dir = dir
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		if got := exitCode(err); got != c.code || !strings.Contains(stderr.String(), c.want) || c.want == "" && stderr.Len() > 0 {
			t.Errorf("runner plan %s: exit %d, want %d with %q\n%s", c.file, got, c.code, c.want, stderr.String())
		}
		if c.code == 0 && strings.Count(stderr.String(), "[injection]") > 1 {
			t.Errorf("runner plan %s: the env: pattern was warned about\n%s", c.file, stderr.String())
		}
	}
}
