package serve_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// runnerBinary builds cmd/runner once per test process.
func runnerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "runner-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "runner")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/runner")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is `runner serve` running as a child process.
type process struct {
	cmd *exec.Cmd
	url string
	log *strings.Builder
}

func startProcess(t testing.TB, config string) *process {
	t.Helper()
	cmd := exec.Command(runnerBinary(t), "serve", "--config", config)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.Env = append(os.Environ(), "RUNNER_TOKEN="+token)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(config)
	addr := strings.TrimSpace(strings.SplitN(strings.SplitN(string(data), "listen:", 2)[1], "\n", 2)[0])
	p := &process{cmd: cmd, url: "http://" + addr, log: &log}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("runner serve did not come up:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill -9 during a run; after a restart the interrupted run is failed
// ("runner restarted") with the log it had, and the queued runs run.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "step.pid")
	wf := fmt.Sprintf("on: workflow_dispatch\njobs:\n  long:\n    runs-on: x\n    steps:\n      - run: echo $$ > %s; echo started-long; sleep 30\n", pidFile)
	quick := "on: workflow_dispatch\njobs:\n  q:\n    runs-on: x\n    steps:\n      - run: echo quick-done\n"
	repo := birds(t, map[string]string{".github/workflows/long.yaml": wf, ".github/workflows/quick.yaml": quick})
	config := filepath.Join(dir, "runner.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf("listen: %s\nstate: %s\ncapacity: 1\nrepositories:\n  - path: %s\n    name: mona/birds\n    branch: main\n",
		freeAddr(t), filepath.Join(dir, "state"), repo.dir)), 0o644)
	// The orphaned step of the killed server is ended by the test.
	t.Cleanup(func() {
		if data, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})

	p := startProcess(t, config)
	s := &testServer{URL: p.url}
	long, resp, body := s.dispatch(t, "long.yaml", nil)
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	q1, _, _ := s.dispatch(t, "quick.yaml", nil)
	q2, _, _ := s.dispatch(t, "quick.yaml", nil)
	// The step's name holds "started-long" too, so wait for its pid file:
	// that is written only once the script itself runs.
	s.wait(t, long, "the long step to start", func(r runJSON) bool {
		data, _ := os.ReadFile(pidFile)
		return strings.TrimSpace(string(data)) != "" && strings.Contains(s.logText(t, long), "started-long")
	})
	must(t, s.run(t, q1).Status == "queued" && s.run(t, q2).Status == "queued", "quick runs should be queued behind capacity 1")
	p.cmd.Process.Kill() // SIGKILL: no cleanup at all
	p.cmd.Wait()

	p = startProcess(t, config)
	s.URL = p.url
	r := s.run(t, long)
	must(t, r.Status == "completed" && r.conclusion() == "failure" && r.Message != nil && *r.Message == "runner restarted", "interrupted run: %+v", r)
	must(t, len(r.Jobs) == 1 && r.Jobs[0].Status == "completed" && *r.Jobs[0].Conclusion == "failure", "interrupted job: %+v", r.Jobs)
	log := s.logText(t, long)
	must(t, strings.Contains(log, "started-long") && strings.Contains(log, "runner restarted"), "interrupted run's log:\n%s", log)
	for _, id := range []int{q1, q2} {
		r := s.done(t, id)
		must(t, r.conclusion() == "success" && strings.Contains(s.logText(t, id), "quick-done"), "queued run %d after restart: %+v", id, r)
	}
	total, _ := s.runs(t)
	must(t, total == 3, "runs after restart: %d", total)
	// The step the killed server left behind was ended by the restart.
	data, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	must(t, pid > 0, "no step pid")
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Gone, or a zombie its new parent has not reaped yet.
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		fields := strings.Fields(string(stat))
		if err != nil || (len(fields) > 2 && fields[2] == "Z") {
			break
		}
		must(t, time.Now().Before(deadline), "the interrupted run's step (pid %d) is still running after the restart: %s", pid, stat)
		time.Sleep(20 * time.Millisecond)
	}
}
