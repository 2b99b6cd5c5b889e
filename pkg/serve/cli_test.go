package serve_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// runner dispatch against a real server: --wait streams the log and exits
// with the run's result; refused inputs exit 2 with the server's message.
func TestDispatchCommand(t *testing.T) {
	fail := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo failing; exit 3\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/fail.yaml": fail}), 0)
	bin := runnerBinary(t)
	cmd := func(args ...string) (string, int) {
		c := exec.Command(bin, append([]string{"dispatch", "--server", s.URL, "--token", token}, args...)...)
		out, err := c.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := cmd("hello", "--input", "who=cli", "--input", "level=high", "--wait")
	must(t, code == 0 && strings.Contains(out, "hello cli loud=false level=high") && strings.Contains(out, "run success"), "exit %d:\n%s", code, out)
	out, code = cmd("hello", "--input", "who=cli", "--input", "level=extreme")
	must(t, code == 2 && strings.Contains(out, "422") && strings.Contains(out, "level"), "bad input: exit %d:\n%s", code, out)
	out, code = cmd("fail.yaml", "--wait")
	must(t, code == 1 && strings.Contains(out, "failing") && strings.Contains(out, "run failure"), "failing run: exit %d:\n%s", code, out)
	out, code = cmd("hello", "--input", "who=x", "--token", "wrong")
	must(t, code == 2 && strings.Contains(out, "401"), "bad token: exit %d:\n%s", code, out)
}

// A repository given by URL is mirrored under the state dir and fetched
// before each dispatch.
func TestURLRepository(t *testing.T) {
	upstream := birds(t, nil)
	state := filepath.Join(t.TempDir(), "state")
	cfg := serve.Config{State: state, Repositories: []serve.Repo{{URL: upstream.dir, Name: "mona/birds", Branch: "main"}}}
	s := start(t, cfg, nil, 0)
	id, resp, body := s.dispatch(t, "hello.yaml", map[string]any{"who": "mirror"})
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	must(t, s.done(t, id).conclusion() == "success", "run failed:\n%s", s.logText(t, id))
	// A new commit upstream is seen by the next dispatch.
	sha := upstream.commit(t, "v2", map[string]string{".github/workflows/hello.yaml": strings.Replace(helloWF, "echo after", "echo after-v2", 1)})
	id, _, _ = s.dispatch(t, "hello.yaml", map[string]any{"who": "mirror"})
	r := s.done(t, id)
	must(t, r.HeadSHA == sha && strings.Contains(s.logText(t, id), "after-v2"), "second run: %+v\n%s", r, s.logText(t, id))
	_, err := os.Stat(filepath.Join(state, "repos", "mona_birds.git"))
	must(t, err == nil, "no mirror: %v", err)
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "runner.yaml")
	os.WriteFile(good, []byte("listen: 127.0.0.1:9999\nstate: st\ncapacity: 3\nrepositories:\n  - path: repo\n    branch: main\n    poll: 30s\n"), 0o644)
	cfg, err := serve.LoadConfig(good)
	must(t, err == nil, "load: %v", err)
	must(t, cfg.Capacity == 3 && cfg.State == filepath.Join(dir, "st") && cfg.Repositories[0].Path == filepath.Join(dir, "repo") &&
		cfg.Repositories[0].Poll.Seconds() == 30, "config: %+v", cfg)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: x\ncapacty: 3\n"), 0o644)
	_, err = serve.LoadConfig(bad)
	must(t, err != nil && strings.Contains(err.Error(), "bad.yaml") && strings.Contains(err.Error(), "line 2") && strings.Contains(err.Error(), "capacty"), "unknown key: %v", err)
}

func TestNotARepository(t *testing.T) {
	dir := t.TempDir()
	_, err := serve.New(serve.Config{State: filepath.Join(dir, "state"), Repositories: []serve.Repo{{Path: dir}}}, serve.Options{})
	must(t, err != nil && strings.Contains(err.Error(), "repository "), "a directory that is not a repository: %v", err)
}
