package run

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/testenv"
)

// hierarchies lists the writable cgroup hierarchies of this machine, as
// runner's own cgroup directory in each, by kind ("v1 freezer", "v2").
func hierarchies(t *testing.T) map[string]string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root: job cgroups")
	}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		for _, c := range strings.Split(parts[1], ",") {
			own[c] = parts[2]
		}
	}
	out := map[string]string{}
	if exists("/sys/fs/cgroup/cgroup.controllers") {
		out["v2"] = filepath.Join("/sys/fs/cgroup", own[""])
		out["v2 without clone3"] = out["v2"]
	} else {
		if p, ok := own["freezer"]; ok && exists("/sys/fs/cgroup/freezer/tasks") {
			out["v1 freezer"] = filepath.Join("/sys/fs/cgroup/freezer", p)
		}
		if exists("/sys/fs/cgroup/unified/cgroup.controllers") {
			out["v2"] = filepath.Join("/sys/fs/cgroup/unified", own[""])
			out["v2 without clone3"] = out["v2"]
		}
	}
	if len(out) == 0 {
		t.Fatal("root, but no cgroup hierarchy found")
	}
	return out
}

// readPid waits for a pid file.
func readPid(t *testing.T, file string) int {
	t.Helper()
	for i := 0; i < 500; i++ {
		if data, err := os.ReadFile(file); err == nil && len(data) > 0 && data[len(data)-1] == '\n' {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", file)
	return 0
}

func alive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(st), ") Z ")
}

// escape starts, in g, a shell that leaves behind processes out of its
// session and environment, and returns their pids. Without clone3 a step
// joins its cgroup just after its start, so there the shell first waits:
// what forks before the join is out of reach (RUNNER_TRACKING_ID's).
func escape(t *testing.T, g *jobCgroup) []int {
	t.Helper()
	dir := t.TempDir()
	wait := ""
	if g.root.noClone3.Load() {
		wait = "sleep 0.2"
	}
	cmd := exec.Command("/bin/sh", "-c", wait+fmt.Sprintf(`
setsid -f sh -c 'echo $$ > %[1]s/a; exec sleep 300' >/dev/null 2>&1
env -i /bin/sh -c 'echo $$ > %[1]s/b; exec sleep 300' >/dev/null 2>&1 &
`, dir))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd, err := g.start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return []int{readPid(t, dir+"/a"), readPid(t, dir+"/b")}
}

// Each hierarchy holds a job's processes, ends them all and goes away;
// runner's own threads stay in runner's cgroup; a dead runner's cgroups
// are swept by the next.
func TestJobCgroupBackends(t *testing.T) {
	for kind, own := range hierarchies(t) {
		t.Run(kind, func(t *testing.T) {
			root := newCgroupRoot(own, strings.HasPrefix(kind, "v2"))
			if root == nil {
				t.Fatalf("no cgroup root under %s", own)
			}
			// Where a seccomp filter refuses clone3, steps join the
			// cgroup just after they start.
			root.noClone3.Store(strings.HasSuffix(kind, "without clone3"))
			g := root.newJob("test_" + strconv.Itoa(os.Getpid()))
			if g == nil {
				t.Fatal("no job cgroup")
			}
			pids := escape(t, g)
			for _, p := range pids {
				if !alive(p) {
					t.Fatalf("process %d already gone", p)
				}
			}
			var got []int
			for _, p := range g.procs() {
				if p != os.Getpid() { // v1: the job's starting thread
					got = append(got, p)
				}
			}
			if len(got) != len(pids) {
				t.Errorf("cgroup holds %v, want %v", got, pids)
			}
			g.end(100 * time.Millisecond)
			if !root.v2 {
				// The thread that started the steps went back.
				tasks, _ := os.ReadDir("/proc/self/task")
				for _, task := range tasks {
					data, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/cgroup")
					if strings.Contains(string(data), "freezer:"+strings.TrimPrefix(g.dir, "/sys/fs/cgroup/freezer")) {
						t.Errorf("runner's thread %s stayed in the job's cgroup", task.Name())
					}
				}
			}
			for _, p := range pids {
				for i := 0; alive(p) && i < 100; i++ {
					time.Sleep(10 * time.Millisecond)
				}
				if alive(p) {
					t.Errorf("process %d survived the job", p)
					syscall.Kill(p, syscall.SIGKILL)
				}
			}
			if exists(g.dir) || exists(root.base) {
				t.Errorf("job cgroup %s left behind", g.dir)
			}

			// A runner killed with -9 leaves its directory and processes:
			// the next runner's start sweeps them. The stale directory is
			// made under a parent of this test's own: under the shared
			// own/runner, any runner starting meanwhile (other packages'
			// tests run in parallel) would sweep it first, killing its
			// processes before they have written their pids.
			parent := filepath.Join(own, "runner-test-"+strconv.Itoa(os.Getpid()))
			if err := os.Mkdir(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(parent)
			dead := exec.Command("true")
			dead.Run()
			stale := &cgroupRoot{v2: root.v2, base: filepath.Join(parent, strconv.Itoa(dead.Process.Pid)+".1"), ownTasks: root.ownTasks}
			if err := os.Mkdir(stale.base, 0o755); err != nil {
				t.Fatal(err)
			}
			liveRoot := &cgroupRoot{v2: root.v2, base: filepath.Join(parent, procName(os.Getpid())), ownTasks: root.ownTasks}
			sg := stale.newJob("leftover")
			pids = escape(t, sg)
			sg.stopStarter() // a dead runner's thread is gone too
			live := liveRoot.newJob("live")
			defer live.end(0)
			sweepCgroups(parent, root.v2, filepath.Base(liveRoot.base))
			for _, p := range pids {
				for i := 0; alive(p) && i < 100; i++ {
					time.Sleep(10 * time.Millisecond)
				}
				if alive(p) {
					t.Errorf("stale process %d survived the sweep", p)
					syscall.Kill(p, syscall.SIGKILL)
				}
			}
			if exists(stale.base) {
				t.Errorf("stale cgroup %s not swept", stale.base)
			}
			if !exists(live.dir) {
				t.Errorf("the sweep removed a live runner's cgroup %s", live.dir)
			}
		})
	}
}
