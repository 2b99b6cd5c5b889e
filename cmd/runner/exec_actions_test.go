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

// --real-action actions/checkout runs the action from the actions source
// instead of runner's built-in checkout; without it the built-in runs; a
// name that is not an alias is a usage error.
func TestExecRealAction(t *testing.T) {
	bin := buildRunner(t)
	dir := testenv.WritableTempDir(t)
	src := filepath.Join(dir, "actions")
	if err := os.MkdirAll(filepath.Join(src, "actions", "checkout"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "actions", "checkout"), "action.yml",
		"name: checkout\ninputs:\n  fetch-depth: {default: '1'}\nruns:\n  using: composite\n  steps:\n    - run: echo real-checkout depth=${{ inputs.fetch-depth }}\n      shell: bash\n")
	wf := writeFile(t, dir, "wf.yaml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n        with: {fetch-depth: 0}\n      - run: test -f wf.yaml && echo has-the-tree || echo no-tree\n")
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, repo, "wf.yaml", "on: push\n")
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=Ana", "-c", "user.email=a@example.com", "commit", "-qm", "init"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	state := filepath.Join(dir, "state")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"exec", wf, "--state", state, "--repo", repo, "--actions-source", src}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(err)
	}
	out, code := run("--real-action", "actions/checkout")
	if code != 0 || !strings.Contains(out, "real-checkout depth=0") || !strings.Contains(out, "no-tree") {
		t.Errorf("--real-action: exit %d\n%s", code, out)
	}
	out, code = run()
	if code != 0 || strings.Contains(out, "real-checkout") || !strings.Contains(out, "has-the-tree") {
		t.Errorf("built-in checkout: exit %d\n%s", code, out)
	}
	out, code = run("--real-action", "render-templates")
	if code != 2 || !strings.Contains(out, `"render-templates" is not an alias of a built-in action; the aliases are: actions/checkout, actions/download-artifact, actions/upload-artifact`) {
		t.Errorf("--real-action render-templates: exit %d\n%s", code, out)
	}
}
