package kube_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
)

// server is a runner serve process of this tree's binary.
type server struct {
	t     testing.TB
	cmd   *exec.Cmd
	url   string
	token string
	log   *bytes.Buffer
}

func startServe(t testing.TB, config string, url string, env ...string) *server {
	t.Helper()
	s := &server{t: t, url: url, token: "kube-test-token", log: &bytes.Buffer{}}
	s.cmd = exec.Command(runnerBin, "serve", "--config", config)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.Env = append(append(os.Environ(), env...), "RUNNER_TOKEN="+s.token)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runner serve did not listen:\n%s", s.log)
		}
	}
	return s
}

// stop ends runner serve (SIGTERM) and waits for its exit.
func (s *server) stop() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	}
}

func (s *server) call(method, path string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

type jobsPage struct {
	Jobs []struct {
		Name       string `json:"name"`
		Status     string `json:"status"`
		Conclusion string `json:"conclusion"`
		RunnerName string `json:"runner_name"`
	} `json:"jobs"`
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeOnKubernetes: runner serve with the Kubernetes executor runs a
// dispatched workflow's jobs in pods and names them in the jobs API
// (runner_name); killed with SIGKILL while a job's pod runs, its restart
// deletes that pod, found by label; a cancel through the API mid-run
// deletes the job's pod and the run ends cancelled.
// serveConfig commits files (path → content) to a new git repository,
// local/repo, and writes a config of runner serve for it with the
// Kubernetes executor in namespace ns, image the pods' image and extra
// appended to the executor section. It returns the config's path and
// serve's URL.
func serveConfig(t *testing.T, c *kubetest.Cluster, ns, image string, files map[string]string, extra string) (config, url string) {
	t.Helper()
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	for name, content := range files {
		path := filepath.Join(repo, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	addr := freeAddr(t)
	config = filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`listen: %s
state: %s
repositories:
  - path: %s
    name: local/repo
executor:
  kind: kubernetes
  kubeconfig: %s
  namespace: %s
  image: %s
  grace: 5s
`, addr, filepath.Join(dir, "state"), repo, c.Kubeconfig, ns, image)+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return config, "http://" + addr
}

func TestServeOnKubernetes(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{}) // builds the image and the binary; the namespace
	ns := tr.Client.Namespace
	config, url := serveConfig(t, c, ns, tr.Config.Image, map[string]string{
		".github/workflows/k.yaml": `on: workflow_dispatch
jobs:
  quick:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "checked out $(cat birds.txt) in $(hostname)"
  long:
    needs: quick
    runs-on: ubuntu-latest
    steps:
      - run: echo started; sleep 600
`,
		"birds.txt": "robin",
	}, "")
	s := startServe(t, config, url)
	if code := s.call("POST", "/repos/local/repo/actions/workflows/k.yaml/dispatches", map[string]any{"ref": "main"}, nil); code != 204 {
		t.Fatalf("dispatch: %d\n%s", code, s.log)
	}
	var runs struct {
		Runs []struct {
			ID int64 `json:"id"`
		} `json:"workflow_runs"`
	}
	var jobs jobsPage
	var longPod string
	for deadline := time.Now().Add(2 * time.Minute); longPod == ""; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the long job's pod did not start; jobs %+v\n%s", jobs, s.log)
		}
		s.call("GET", "/repos/local/repo/actions/runs", nil, &runs)
		if len(runs.Runs) == 0 {
			continue
		}
		s.call("GET", fmt.Sprintf("/repos/local/repo/actions/runs/%d/jobs", runs.Runs[0].ID), nil, &jobs)
		for _, j := range jobs.Jobs {
			if j.Name == "long" && strings.HasPrefix(j.RunnerName, "runner-long-") {
				longPod = j.RunnerName
			}
		}
	}
	for _, j := range jobs.Jobs {
		if j.Name == "quick" && (j.Conclusion != "success" || !strings.HasPrefix(j.RunnerName, "runner-quick-")) {
			t.Errorf("job quick: %+v, want success in a pod named in runner_name", j)
		}
	}
	// The pod runs; the service dies without a word.
	if _, err := c.Client.CoreV1().Pods(ns).Get(context.Background(), longPod, metav1.GetOptions{}); err != nil {
		t.Fatalf("pod %s: %v", longPod, err)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	if _, err := c.Client.CoreV1().Pods(ns).Get(context.Background(), longPod, metav1.GetOptions{}); err != nil {
		t.Fatalf("pod %s is gone before the restart (the test proves nothing): %v", longPod, err)
	}
	s2 := startServe(t, config, url)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if len(pods(t, c, ns)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods left a minute after the restart: %v\n%s", pods(t, c, ns), s2.log)
		}
	}
	if !strings.Contains(s2.log.String(), longPod) {
		t.Errorf("the restarted service's log does not name the pod it deleted (%s):\n%s", longPod, s2.log)
	}

	// Cancel through the API mid-run: the job's pod goes, the run is
	// cancelled.
	if code := s2.call("POST", "/repos/local/repo/actions/workflows/k.yaml/dispatches", map[string]any{"ref": "main"}, nil); code != 204 {
		t.Fatalf("dispatch: %d\n%s", code, s2.log)
	}
	var second int64
	for deadline := time.Now().Add(2 * time.Minute); second == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the second run's long job did not start in a pod\n%s", s2.log)
		}
		s2.call("GET", "/repos/local/repo/actions/runs", nil, &runs)
		if len(runs.Runs) == 0 || runs.Runs[0].ID == runs.Runs[len(runs.Runs)-1].ID {
			continue
		}
		jobs = jobsPage{}
		s2.call("GET", fmt.Sprintf("/repos/local/repo/actions/runs/%d/jobs", runs.Runs[0].ID), nil, &jobs)
		for _, j := range jobs.Jobs {
			if j.Name == "long" && strings.HasPrefix(j.RunnerName, "runner-long-") && len(pods(t, c, ns)) > 0 {
				second = runs.Runs[0].ID
			}
		}
	}
	if code := s2.call("POST", fmt.Sprintf("/repos/local/repo/actions/runs/%d/cancel", second), nil, nil); code != 202 {
		t.Fatalf("cancel: %d", code)
	}
	var run struct {
		Status     string `json:"status"`
		Conclusion string `json:"conclusion"`
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		s2.call("GET", fmt.Sprintf("/repos/local/repo/actions/runs/%d", second), nil, &run)
		if run.Status == "completed" && len(pods(t, c, ns)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the cancel: run %+v, pods %v\n%s", run, pods(t, c, ns), s2.log)
		}
	}
	if run.Conclusion != "cancelled" {
		t.Errorf("the cancelled run's conclusion: %q", run.Conclusion)
	}
}

// TestExecOnKubernetes: runner exec --executor kubernetes, as a user on a
// laptop runs it: the legs run in pods of the cluster the kubeconfig names,
// the checkout has the local repository's files, the console names the
// pods, a failing job is exit 1, and no pod is left.
func TestExecOnKubernetes(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	repo := t.TempDir()
	wf := filepath.Join(repo, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(wf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.yaml", `on: push
jobs:
  hello:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "in $(hostname) sees $(cat bird.txt)"
`)
	write("bad.yaml", `on: push
jobs:
  fails:
    runs-on: ubuntu-latest
    steps:
      - run: exit 3
`)
	if err := os.WriteFile(filepath.Join(repo, "bird.txt"), []byte("wren"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	execRunner := func(wf string) (string, int) {
		cmd := exec.Command(runnerBin, "exec", wf, "--executor", "kubernetes", "--kubeconfig", c.Kubeconfig,
			"--namespace", tr.Client.Namespace, "--image", tr.Config.Image, "--state", filepath.Join(repo, ".runner"))
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := execRunner("ok")
	if code != 0 || !strings.Contains(out, "Running in pod "+tr.Client.Namespace+"/runner-hello-") || !strings.Contains(out, "sees wren") {
		t.Errorf("runner exec ok --executor kubernetes: exit %d\n%s", code, out)
	}
	out, code = execRunner("bad")
	if code != 1 {
		t.Errorf("runner exec bad --executor kubernetes: exit %d, want 1\n%s", code, out)
	}
	if left := pods(t, c, tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
}

// TestServeRefusesABadNamespace: runner serve with the Kubernetes executor
// checks at start that it may run pods where its config says: a namespace
// that does not exist stops the service with a message naming it, before
// any run.
func TestServeRefusesABadNamespace(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{}) // the binary and the image
	dir := t.TempDir()
	config := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`listen: %s
state: %s
executor:
  kind: kubernetes
  kubeconfig: %s
  namespace: no-such-namespace
  image: %s
`, freeAddr(t), filepath.Join(dir, "state"), c.Kubeconfig, tr.Config.Image)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runnerBin, "serve", "--config", config)
	cmd.Env = append(os.Environ(), "RUNNER_TOKEN=kube-test-token")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("runner serve kept running with a namespace that does not exist:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "no-such-namespace") {
		t.Errorf("runner serve: %v\n%s", err, out)
	}
}
