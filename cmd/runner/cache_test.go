package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/registry"
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

// exec --cache-registry: two state dirs (two machines) share hits through
// runner's registry; a repository that is none is a usage error.
func TestCacheRegistryCLI(t *testing.T) {
	bin := buildRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	repo := t.TempDir()
	gittest.Init(t, repo)
	gittest.Commit(t, repo, map[string]string{"workflows/w.yaml": `on: push
jobs:
  build:
    runs-on: x
    env:
      RUNNER_CACHE: 'true'
    outputs:
      v: ${{ steps.s.outputs.v }}
    steps:
      - id: s
        run: echo "v=built" >> "$GITHUB_OUTPUT"
  use:
    needs: build
    runs-on: x
    steps:
      - run: echo "got=${{ needs.build.outputs.v }}"
`}, "init")
	runner := func(state string, args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--state", state, "--cache-registry", srv.Addr()+"/o/runner-cache")...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := runner(filepath.Join(t.TempDir(), "a"), "exec", "w")
	if err != nil || strings.Contains(out, "cached (run") || !strings.Contains(out, "cache: pushed key ") {
		t.Fatalf("first machine: %v\n%s", err, out)
	}
	out, err = runner(filepath.Join(t.TempDir(), "b"), "exec", "w")
	if err != nil || !strings.Contains(out, "cache: pulled key ") || !strings.Contains(out, "cached (run 1, key ") || !strings.Contains(out, "got=built") {
		t.Fatalf("second machine: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "exec", "w", "--state", t.TempDir(), "--cache-registry", "127.0.0.1:5000/Bad Repo")
	cmd.Dir = repo
	out2, err := cmd.CombinedOutput()
	if exitCode(err) != 2 || !strings.Contains(string(out2), "--cache-registry") {
		t.Errorf("a bad --cache-registry: exit %d\n%s", exitCode(err), out2)
	}
}
