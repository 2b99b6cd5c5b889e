package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runner exec --input refuses what the dispatch API refuses: an empty
// required input, NaN or Inf for a number.
func TestExecInputChecks(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "in.yaml")
	src := "on:\n  workflow_dispatch:\n    inputs:\n      username: {type: string, required: true}\n      count: {type: number, default: 1}\n" +
		"jobs:\n  a:\n    runs-on: x\n    steps: [{run: 'echo \"user=${{ inputs.username }} count=${{ inputs.count }}\"'}]\n"
	if err := os.WriteFile(wf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		inputs []string
		code   int
		want   string
	}{
		{[]string{"username=mona", "count=2.5"}, 0, "user=mona count=2.5"},
		{[]string{"username="}, 2, `input "username" is required`},
		{[]string{"username=  "}, 2, `input "username" is required`},
		{[]string{"username=mona", "count=NaN"}, 2, `input "count" must be a number`},
		{[]string{"username=mona", "count=Inf"}, 2, `input "count" must be a number`},
		{[]string{"username=mona", "count=-infinity"}, 2, `input "count" must be a number`},
	} {
		args := []string{"exec", wf, "--state", filepath.Join(dir, "state")}
		for _, in := range c.inputs {
			args = append(args, "--input", in)
		}
		out, err := exec.Command(bin, args...).CombinedOutput()
		if got := exitCode(err); got != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("runner exec --input %v: exit %d, want %d with %q\n%s", c.inputs, got, c.code, c.want, out)
		}
	}
}
