package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/testenv"
)

// runner exec --actions-source takes remote actions from a local folder
// (here a plain one) and $RUNNER_ACTIONS_SOURCE does the same; a bad
// source is a usage error before anything runs.
func TestExecActionsSource(t *testing.T) {
	bin := buildRunner(t)
	dir := testenv.WritableTempDir(t)
	src := filepath.Join(dir, "actions")
	if err := os.MkdirAll(filepath.Join(src, "alice", "hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "alice", "hello"), "action.yml", "name: hello\nruns:\n  using: composite\n  steps:\n    - run: echo from-the-action\n      shell: bash\n")
	wf := writeFile(t, dir, "wf.yaml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo first\n      - uses: alice/hello@v1\n")
	state := filepath.Join(dir, "state")
	for _, how := range []string{"flag", "env"} {
		cmd := exec.Command(bin, "exec", wf, "--state", state)
		cmd.Env = append(os.Environ(), "RUNNER_ACTIONS_SOURCE=")
		if how == "flag" {
			cmd.Args = append(cmd.Args, "--actions-source", src)
		} else {
			cmd.Env = append(cmd.Env, "RUNNER_ACTIONS_SOURCE="+src)
		}
		out, _ := cmd.CombinedOutput()
		want := "Download action repository 'alice/hello@v1' (folder " + src + "/alice/hello, sha256:"
		if !strings.Contains(string(out), want) || !strings.Contains(string(out), "first") {
			t.Errorf("%s: output lacks %q:\n%s", how, want, out)
		}
	}
	if copies, _ := filepath.Glob(filepath.Join(state, "actions", "alice", "hello", "dir-*", "action.yml")); len(copies) != 1 {
		t.Errorf("cached copies: %v", copies)
	}
	for _, c := range []struct{ source, want string }{
		{filepath.Join(dir, "missing"), "no such file or directory"},
		{"https://git.example.com/{owner}", "needs {owner} and {repo}"},
	} {
		out, err := exec.Command(bin, "exec", wf, "--state", state, "--actions-source", c.source).CombinedOutput()
		if exitCode(err) != 2 || !strings.Contains(string(out), c.want) || strings.Contains(string(out), "first") {
			t.Errorf("--actions-source %s: exit %d, want 2 with %q\n%s", c.source, exitCode(err), c.want, out)
		}
	}
}
