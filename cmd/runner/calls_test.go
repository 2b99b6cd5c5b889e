package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/testenv"
)

// runner exec and plan of a workflow that calls a reusable one: the
// callee's jobs run as "caller / job"; a call that does not fit is exit 2
// with FILE:LINE:COL before anything runs; a reusable workflow run by
// itself takes --input typed as its workflow_call inputs, and needs its
// required workflow_call secrets (--secret, names in any case).
func TestExecReusableWorkflows(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, wf, "lib.yml", `on:
  workflow_call:
    inputs:
      n: {type: number, required: true}
      who: {type: string, default: world}
    outputs:
      greeting: {value: '${{ jobs.hello.outputs.g }}'}
jobs:
  hello:
    runs-on: x
    outputs: {g: '${{ steps.s.outputs.g }}'}
    steps:
      - id: s
        run: echo "g=hello ${{ inputs.who }} n=${{ inputs.n }} ${{ inputs.n == 3 }}" | tee -a "$GITHUB_OUTPUT"
`)
	writeFile(t, wf, "main.yml", `on: push
jobs:
  call:
    uses: ./.github/workflows/lib.yml
    with: {n: 3}
  show:
    needs: call
    runs-on: x
    steps: [{run: 'echo "said: ${{ needs.call.outputs.greeting }}"'}]
`)
	writeFile(t, wf, "both.yml", "on: [pull_request, workflow_call]\njobs:\n  a: {runs-on: x, steps: [{run: 'echo event=${{ github.event_name }}'}]}\n")
	writeFile(t, wf, "needsec.yml", "on:\n  workflow_call:\n    secrets:\n      token: {required: true}\n      other: {}\njobs:\n  a: {runs-on: x, steps: [{run: 'echo tok=${{ secrets.token }}'}]}\n")
	writeFile(t, wf, "bad.yml", "on: push\njobs:\n  call:\n    uses: ./.github/workflows/lib.yml\n    with: {n: 3, whom: x}\n")
	state := filepath.Join(dir, "state")
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"exec", ".github/workflows/main.yml"}, 0, []string{"said: hello world n=3 true", "call / hello"}},
		{[]string{"exec", ".github/workflows/bad.yml"}, 2, []string{`.github/workflows/bad.yml:5:18: job call: invalid input "whom": it is not defined in ./.github/workflows/lib.yml (its inputs: n, who); did you mean "who"?`}},
		{[]string{"exec", ".github/workflows/lib.yml", "--input", "n=3", "--input", "who=you"}, 0, []string{"g=hello you n=3 true"}},
		{[]string{"exec", ".github/workflows/lib.yml", "--input", "n=three"}, 2, []string{`input "n" must be a number, not "three"`}},
		{[]string{"exec", ".github/workflows/lib.yml"}, 2, []string{`input "n" is required`}},
		{[]string{"exec", ".github/workflows/needsec.yml"}, 2, []string{`secret "token" is required by on.workflow_call`}},
		{[]string{"exec", ".github/workflows/needsec.yml", "--secret", "TOKEN=abc"}, 0, []string{"tok=***"}},
		{[]string{"exec", ".github/workflows/both.yml"}, 0, []string{"event=push"}},
		{[]string{"exec", ".github/workflows/both.yml", "--event", "workflow_call"}, 0, []string{"event=workflow_call"}},
		{[]string{"plan", ".github/workflows/main.yml"}, 0, []string{"  call → ./.github/workflows/lib.yml\n    call / hello (1 steps)\n", "  show (1 steps)  needs: call"}},
		{[]string{"plan", "--json", ".github/workflows/main.yml"}, 0, []string{`"uses": "./.github/workflows/lib.yml"`, `"called_jobs": [`, `"call / hello"`}},
	} {
		args := append(c.args, "--repo", dir)
		if args[0] == "exec" {
			args = append(args, "--state", state)
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if got := exitCode(err); got != c.code {
			t.Errorf("runner %v: exit %d, want %d\n%s", c.args, got, c.code, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("runner %v: no %q in\n%s", c.args, w, out)
			}
		}
	}
	// The refused runs wrote nothing: five runs in all.
	if entries, _ := os.ReadDir(filepath.Join(state, "runs")); len(entries) != 5 {
		t.Errorf("runs written: %d", len(entries))
	}
}

// runner check looks at the local reusable workflows a workflow calls: a
// with: key the callee does not declare, a callee without workflow_call
// and a cycle are problems of the caller's file; remote calls are not
// fetched, and a caller that fits is clean.
func TestCheckReusableCalls(t *testing.T) {
	dir := t.TempDir()
	lib := "on:\n  workflow_call:\n    inputs:\n      n: {type: number, required: true}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n"
	writeFiles(t, dir, map[string]string{
		".github/workflows/lib.yml":  lib,
		".github/workflows/good.yml": "on: push\njobs:\n  c:\n    uses: ./.github/workflows/lib.yml\n    with: {n: 1}\n  r:\n    uses: org/repo/.github/workflows/x.yml@v1\n",
		".github/workflows/bad.yml":  "on: push\njobs:\n  c:\n    uses: ./.github/workflows/lib.yml\n    with: {n: 1, m: 2}\n  d:\n    uses: ./.github/workflows/good.yml\n",
	})
	out, _, code := check(t, nil, checkOptions{repo: dir})
	if code != 1 || strings.Contains(out, "good.yml:") || strings.Contains(out, "lib.yml:") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{
		`bad.yml:5:18: job c: invalid input "m": it is not defined in ./.github/workflows/lib.yml (its inputs: n) [call]`,
		`bad.yml:7:11: job d: ./.github/workflows/good.yml has no on.workflow_call trigger, so it cannot be called (its triggers: push) [call]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// runner plan of a workflow that calls a remote reusable workflow fetches
// it as runner exec does: from --actions-source (or
// $RUNNER_ACTIONS_SOURCE), cached under --state (default .runner), never
// into the current directory, which is usually the user's repository.
func TestPlanRemoteCallSourceAndState(t *testing.T) {
	bin := buildRunner(t)
	dir := testenv.WritableTempDir(t)
	lib := filepath.Join(dir, "src", "alice", "lib", ".github", "workflows")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, lib, "build.yml", "on: workflow_call\njobs:\n  compile: {runs-on: x, steps: [{run: 'true'}]}\n")
	repo := filepath.Join(dir, "repo")
	wf := filepath.Join(repo, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, wf, "main.yml", "on: push\njobs:\n  call:\n    uses: alice/lib/.github/workflows/build.yml@v1\n")
	state := filepath.Join(dir, "state")
	for _, c := range []struct {
		name  string
		args  []string
		env   string
		cache string
	}{
		{"flags", []string{"--actions-source", filepath.Join(dir, "src"), "--state", state}, "", state},
		{"env, default state", nil, filepath.Join(dir, "src"), filepath.Join(repo, ".runner")},
	} {
		cmd := exec.Command(bin, append([]string{"plan", ".github/workflows/main.yml", "--repo", repo}, c.args...)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "RUNNER_ACTIONS_SOURCE="+c.env)
		out, err := cmd.CombinedOutput()
		if exitCode(err) != 0 || !strings.Contains(string(out), "call / compile (1 steps)") {
			t.Errorf("%s: exit %d\n%s", c.name, exitCode(err), out)
		}
		if copies, _ := filepath.Glob(filepath.Join(c.cache, "actions", "alice", "lib", "dir-*", ".github", "workflows", "build.yml")); len(copies) != 1 {
			t.Errorf("%s: cached copies under %s: %v", c.name, c.cache, copies)
		}
		if _, err := os.Stat(filepath.Join(repo, "actions")); err == nil {
			t.Errorf("%s: runner plan wrote actions/ into the current directory", c.name)
		}
	}
}
