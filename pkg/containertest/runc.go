package containertest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Running is what the host holds for a running runc container.
type Running struct {
	pid     int
	netns   uint64            // inode of its network namespace
	cgroups map[string]string // "pids", "memory" → the container's cgroup dir
	v2      bool
}

// Inspect waits until runc (with its default state dir) reports container
// id running and finds its cgroups and network namespace through its init
// process.
func Inspect(t testing.TB, id string) Running {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	for {
		out, err := exec.Command(RuncPath(), "state", id).Output()
		if err == nil && json.Unmarshal(out, &st) == nil && st.Status == "running" && st.Pid > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s not running: %v %s", id, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	run := Running{pid: st.Pid, cgroups: map[string]string{}}
	var ns syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", st.Pid), &ns); err != nil {
		t.Fatal(err)
	}
	run.netns = ns.Ino
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		run.v2 = true // unified hierarchy: one "0::/path" line
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(f[1], ",") {
			if !run.v2 && (ctrl == "pids" || ctrl == "memory") {
				run.cgroups[ctrl] = filepath.Join("/sys/fs/cgroup", f[1], f[2])
			}
		}
		if run.v2 && f[0] == "0" {
			run.cgroups["pids"] = filepath.Join("/sys/fs/cgroup", f[2])
			run.cgroups["memory"] = run.cgroups["pids"]
		}
	}
	for _, ctrl := range []string{"pids", "memory"} {
		if !strings.Contains(run.cgroups[ctrl], id) {
			t.Fatalf("%s cgroup of %s is %q, not the container's own:\n%s", ctrl, id, run.cgroups[ctrl], b)
		}
	}
	return run
}

// Limit reads the pids or memory limit of the container's cgroup ("max"
// for no pids limit on cgroup v2 and v1, "max" or a huge number for no
// memory limit).
func (run Running) Limit(t testing.TB, ctrl string) string {
	t.Helper()
	file := map[string]string{"pids": "pids.max", "memory": "memory.limit_in_bytes"}[ctrl]
	if run.v2 {
		file = map[string]string{"pids": "pids.max", "memory": "memory.max"}[ctrl]
	}
	b, err := os.ReadFile(filepath.Join(run.cgroups[ctrl], file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// AssertReleased checks that the container's cgroups and network
// namespace are gone: no cgroup dir, no process or open file of this
// process in the namespace.
func (run Running) AssertReleased(t testing.TB) {
	t.Helper()
	for ctrl, dir := range run.cgroups {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s cgroup %s left: %v", ctrl, dir, err)
		}
	}
	netns := fmt.Sprintf("net:[%d]", run.netns)
	links, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	fds, _ := filepath.Glob("/proc/self/fd/*")
	for _, l := range append(links, fds...) {
		if target, _ := os.Readlink(l); target == netns {
			t.Errorf("network namespace %s still held by %s", netns, l)
		}
	}
}
