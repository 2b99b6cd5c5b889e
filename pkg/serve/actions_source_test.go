package serve_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
	"github.com/birdflock/runner/pkg/testenv"
)

// actionFolder writes a plain folder OWNER/REPO action under a new source
// folder and returns the source.
func actionFolder(t *testing.T, name string) string {
	t.Helper()
	src := t.TempDir()
	p := filepath.Join(src, "alice", "hello", "action.yml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	yml := "name: " + name + "\nruns:\n  using: composite\n  steps:\n    - run: echo " + name + "\n      shell: bash\n"
	if err := os.WriteFile(p, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// A repository's actions-source replaces the service's for its runs: the
// job's set-up takes alice/hello from its folder, the other repository's
// from the service's.
func TestRepositoryActionsSource(t *testing.T) {
	service, own := actionFolder(t, "service"), actionFolder(t, "own")
	files := map[string]string{".github/workflows/act.yaml": "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: alice/hello@v1\n"}
	sourced := birds(t, files)
	state := filepath.Join(testenv.WritableTempDir(t), "state")
	s := start(t, serve.Config{State: state, ActionsSource: service, Repositories: []serve.Repo{{Path: sourced.dir, Name: "mona/sourced", Branch: "main", ActionsSource: own}}}, birds(t, files), 0)

	resp, body := do(t, "POST", s.URL+"/repos/mona/sourced/actions/workflows/act.yaml/dispatches", token, map[string]any{"ref": "main"})
	must(t, resp.StatusCode == http.StatusNoContent, "dispatch: %s %s", resp.Status, body)
	var id int
	fmt.Sscanf(resp.Header.Get("Location"), "/api/runs/%d", &id)
	s.done(t, id)
	log := s.logText(t, id)
	must(t, strings.Contains(log, "Download action repository 'alice/hello@v1' (folder "+own+"/alice/hello, sha256:"), "the repository's source was not used:\n%s", log)

	other, _, _ := s.dispatch(t, "act.yaml", nil)
	s.done(t, other)
	log = s.logText(t, other)
	must(t, strings.Contains(log, "Download action repository 'alice/hello@v1' (folder "+service+"/alice/hello, sha256:"), "the service's source was not used:\n%s", log)

	// The repository's folder goes away: its runs fail saying so, and do
	// not turn to GitHub.
	if err := os.RemoveAll(own); err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, "POST", s.URL+"/repos/mona/sourced/actions/workflows/act.yaml/dispatches", token, map[string]any{"ref": "main"})
	must(t, resp.StatusCode == http.StatusNoContent, "dispatch: %s %s", resp.Status, body)
	fmt.Sscanf(resp.Header.Get("Location"), "/api/runs/%d", &id)
	must(t, s.done(t, id).conclusion() == "failure", "a run without its actions source did not fail")
	log = s.logText(t, id)
	must(t, strings.Contains(log, "no folder alice/hello in the actions source "+own) && !strings.Contains(log, "github.com"), "the removed source:\n%s", log)
}

// actions-source in the config file: a folder relative to the file, a URL
// template; a missing folder or a template without {repo} is an error
// naming the key.
func TestConfigActionsSource(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "acts"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(src string) string {
		p := filepath.Join(dir, "runner.yaml")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := serve.LoadConfig(write("actions-source: acts\nrepositories:\n  - path: r\n    actions-source: https://git.example.com/{owner}/{repo}\n"))
	if err != nil || cfg.ActionsSource != filepath.Join(dir, "acts") || cfg.Repositories[0].ActionsSource != "https://git.example.com/{owner}/{repo}" {
		t.Fatalf("%+v %v", cfg, err)
	}
	for src, want := range map[string]string{
		"actions-source: missing\n": "actions-source: actions source: stat " + filepath.Join(dir, "missing"),
		"repositories:\n  - path: r\n    name: o/r\n    actions-source: https://h/{owner}\n": "repositories: o/r: actions-source: actions source https://h/{owner}: a URL template needs {owner} and {repo}",
		"real-actions: [lint-yaml]\n": `real-actions: "lint-yaml" is not an alias of a built-in action`,
	} {
		if _, err := serve.LoadConfig(write(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", src, err, want)
		}
	}
}
