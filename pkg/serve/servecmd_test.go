package serve_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveCmd starts `runner serve ARGS...` and returns its stderr lines up to
// and including the API token line, and its URL. The process is stopped
// at the end of the test.
func serveCmd(t *testing.T, env []string, args ...string) (url string, lines []string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(runnerBinary(t), append([]string{"serve", "--listen", addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	got := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-got:
			if !ok {
				t.Fatalf("runner serve ended:\n%s", strings.Join(lines, "\n"))
			}
			lines = append(lines, l)
			if strings.Contains(l, "API token") {
				go func() { // keep the pipe drained
					for range got {
					}
				}()
				return "http://" + addr, lines
			}
		case <-deadline:
			t.Fatalf("no token line from runner serve:\n%s", strings.Join(lines, "\n"))
		}
	}
}

// serveFails runs `runner serve ARGS...` expecting it to refuse to start.
func serveFails(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(runnerBinary(t), append([]string{"serve", "--listen", freeAddr(t)}, args...)...)
	cmd.Env = os.Environ()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("runner serve %v did not refuse to start:\n%s", args, out)
	}
	return string(out), exitCode(err)
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// --repo with a URL watches a mirror of it (like the config's url:), and
// --poll polls it.
func TestServeRepoURL(t *testing.T) {
	upstream := birds(t, nil)
	state := filepath.Join(t.TempDir(), "state")
	url, lines := serveCmd(t, []string{"RUNNER_TOKEN=" + token}, "--state", state, "--repo", "file://"+upstream.dir, "--poll", "50ms")
	must(t, strings.Contains(strings.Join(lines, "\n"), "API token from $RUNNER_TOKEN"), "token line:\n%s", strings.Join(lines, "\n"))
	s := &testServer{URL: url}
	_, body := do(t, "GET", url+"/api/repos", token, nil)
	must(t, strings.Contains(string(body), `"full_name": "local/repo"`) && strings.Contains(string(body), `"poll": "50ms"`), "repos: %s", body)
	resp, body := do(t, "POST", url+"/repos/local/repo/actions/workflows/hello.yaml/dispatches", token, map[string]any{"inputs": map[string]any{"who": "url"}})
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	var id int
	fmt.Sscanf(resp.Header.Get("Location"), "/api/runs/%d", &id)
	must(t, s.done(t, id).conclusion() == "success", "run:\n%s", s.logText(t, id))
	_, err := os.Stat(filepath.Join(state, "repos", "local_repo.git"))
	must(t, err == nil, "no mirror under the state dir: %v", err)
	// Polling the mirror finds a new upstream commit.
	sha := upstream.commit(t, "code", map[string]string{"back-end/main.go": "package main\n// polled\n"})
	s.wait(t, id, "a polled run", func(runJSON) bool {
		_, runs := s.runs(t)
		return len(runs) == 2 && runs[0].HeadSHA == sha && runs[0].Event == "push"
	})
}

// The startup message says where the token really is; empty or doubly set
// secrets are startup errors naming their file.
func TestServeTokenSources(t *testing.T) {
	repo := birds(t, nil)
	dir := t.TempDir()
	config := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(fmt.Sprintf("state: %s\nrepositories:\n  - path: %s\n%s", filepath.Join(dir, "state-"+name), repo.dir, body)), 0o644)
		return p
	}
	inline := config("inline.yaml", "token: inline-token\n")
	url, lines := serveCmd(t, nil, "--config", inline)
	all := strings.Join(lines, "\n")
	must(t, strings.Contains(all, "API token from "+inline) && !strings.Contains(all, "API token in"), "inline token:\n%s", all)
	_, err := os.Stat(filepath.Join(dir, "state-inline.yaml", "token"))
	must(t, os.IsNotExist(err), "a token file was written for an inline token: %v", err)
	resp, _ := do(t, "POST", url+"/api/runs/1/cancel", "inline-token", nil)
	must(t, resp.StatusCode == 404, "inline token refused: %s", resp.Status)

	tokFile := filepath.Join(dir, "tok")
	os.WriteFile(tokFile, []byte("file-token\n"), 0o600)
	_, lines = serveCmd(t, nil, "--config", config("file.yaml", "token-file: "+tokFile+"\n"))
	must(t, strings.Contains(strings.Join(lines, "\n"), "API token in "+tokFile), "token file:\n%s", strings.Join(lines, "\n"))

	_, lines = serveCmd(t, nil, "--config", config("mirrors.yaml", "token: x\nregistry-mirrors: ['docker.io=http://127.0.0.1:5999']\n"))
	must(t, strings.Contains(strings.Join(lines, "\n"), "listening on"), "with registry-mirrors:\n%s", strings.Join(lines, "\n"))

	_, lines = serveCmd(t, nil, "--config", config("gen.yaml", ""))
	must(t, strings.Contains(strings.Join(lines, "\n"), "API token in "+filepath.Join(dir, "state-gen.yaml", "token")), "generated:\n%s", strings.Join(lines, "\n"))

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n  \n"), 0o600)
	for _, c := range []struct{ name, body, want string }{
		{"e1.yaml", "token-file: " + empty + "\n", "token-file: " + empty + " is empty"},
		{"e2.yaml", "webhook-secret-file: " + empty + "\n", "webhook-secret-file: " + empty + " is empty"},
		{"e3.yaml", "token: a\ntoken-file: " + tokFile + "\n", "token and token-file are both set"},
		{"e4.yaml", "webhook-secret: a\nwebhook-secret-file: " + tokFile + "\n", "webhook-secret and webhook-secret-file are both set"},
		{"e5.yaml", "registry-mirrors: [docker.io]\n", "registry-mirrors:"},
	} {
		out, code := serveFails(t, "--config", config(c.name, c.body))
		must(t, code == 2 && strings.Contains(out, c.want), "%s: exit %d:\n%s", c.body, code, out)
		must(t, !strings.Contains(out, "file-token"), "a secret in the error:\n%s", out)
	}
}

// runner serve --listen 0.0.0.0 with a generated token refuses to start.
func TestServeRefusesPublicListenWithoutToken(t *testing.T) {
	repo := birds(t, nil)
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		out, code := serveFails(t, "--listen", addr, "--state", filepath.Join(t.TempDir(), "state"), "--repo", repo.dir)
		must(t, code == 2 && strings.Contains(out, "refusing to listen on "+addr) && strings.Contains(out, "RUNNER_TOKEN"), "--listen %s: exit %d:\n%s", addr, code, out)
	}
}

// The token and webhook secret given in runner serve's environment are not
// passed on to steps (which inherit the service's environment).
func TestServeEnvSecretsNotInherited(t *testing.T) {
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"[${RUNNER_TOKEN:-unset}] [${RUNNER_WEBHOOK_SECRET:-unset}]\" | rev\n"
	repo := birds(t, map[string]string{".github/workflows/env.yaml": wf})
	url, _ := serveCmd(t, []string{"RUNNER_TOKEN=" + token, "RUNNER_WEBHOOK_SECRET=hook-s3cret"}, "--state", filepath.Join(t.TempDir(), "state"), "--repo", repo.dir)
	s := &testServer{URL: url}
	resp, body := do(t, "POST", url+"/repos/local/repo/actions/workflows/env.yaml/dispatches", token, map[string]any{})
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	var id int
	fmt.Sscanf(resp.Header.Get("Location"), "/api/runs/%d", &id)
	must(t, s.done(t, id).conclusion() == "success", "run failed:\n%s", s.logText(t, id))
	log := s.logText(t, id)
	must(t, strings.Contains(log, "]tesnu[ ]tesnu["), "a step saw runner serve's token or webhook secret:\n%s", log)
}
