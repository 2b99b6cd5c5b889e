package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// The CLI end to end: exec stores and hits, plan --explain-cache prints the
// key exec used, --no-cache runs, cache ls|rm|prune manage the entries.
func TestCacheCLI(t *testing.T) {
	bin := buildRunner(t)
	repo := t.TempDir()
	gittest.Init(t, repo)
	gittest.Commit(t, repo, map[string]string{
		"back/f.txt": "one",
		"workflows/w.yaml": `on: push
jobs:
  build:
    runs-on: x
    env:
      RUNNER_CACHE: 'paths: back/**'
    outputs:
      v: ${{ steps.s.outputs.v }}
    steps:
      - uses: actions/checkout@v4
      - id: s
        run: echo "v=$(cat back/f.txt)" >> "$GITHUB_OUTPUT"
  use:
    needs: build
    runs-on: x
    steps:
      - run: echo "got=${{ needs.build.outputs.v }}"
`,
	}, "init")
	state := filepath.Join(t.TempDir(), "state")
	runner := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--state", state)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := runner("exec", "w")
	if err != nil || strings.Contains(out, "cached (run") || !strings.Contains(out, "got=one") {
		t.Fatalf("first exec: %v\n%s", err, out)
	}
	out, err = runner("exec", "w")
	if err != nil || !strings.Contains(out, "cached (run 1, key ") || !strings.Contains(out, "got=one") {
		t.Fatalf("second exec: %v\n%s", err, out)
	}
	explained, err := runner("plan", "w", "--explain-cache", "build")
	if err != nil {
		t.Fatalf("plan --explain-cache: %v\n%s", err, explained)
	}
	_, key, _ := strings.Cut(explained, "\nkey: ")
	key = strings.TrimSpace(key)
	if len(key) != 64 || !strings.Contains(out, "key "+key[:12]) {
		t.Fatalf("explained key %q is not the key exec hit:\n%s\n%s", key, explained, out)
	}
	if out, err = runner("exec", "w", "--no-cache"); err != nil || strings.Contains(out, "cached (run") {
		t.Fatalf("--no-cache: %v\n%s", err, out)
	}
	ls, err := runner("cache", "ls")
	if err != nil || !strings.Contains(ls, key[:12]) || !strings.Contains(ls, "1 entries") {
		t.Fatalf("cache ls: %v\n%s", err, ls)
	}
	if out, err := runner("cache", "rm", key[:8]); err != nil || !strings.Contains(out, "removed "+key) {
		t.Fatalf("cache rm: %v\n%s", err, out)
	}
	if _, err := runner("cache", "rm", key[:8]); exitCode(err) != 1 {
		t.Errorf("rm of a missing entry: exit %d, want 1", exitCode(err))
	}
	if out, err = runner("exec", "w"); err != nil || strings.Contains(out, "cached (run") {
		t.Fatalf("exec after rm hit: %v\n%s", err, out)
	}
	if out, err := runner("cache", "prune"); err != nil || !strings.Contains(out, "removed "+key[:12]) {
		t.Fatalf("cache prune: %v\n%s", err, out)
	}
	if ls, _ := runner("cache", "ls"); !strings.Contains(ls, "0 entries") {
		t.Errorf("after prune:\n%s", ls)
	}
}
