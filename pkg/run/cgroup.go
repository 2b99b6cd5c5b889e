package run

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Job cgroups: every process a job starts lives in a cgroup of the job's
// own, which the job's end empties and removes. Leaving the process group
// (setsid), the session or the environment (env -i, which drops
// RUNNER_TRACKING_ID) does not leave the cgroup, unless a step, as root,
// moves itself out by writing to cgroupfs.
//
// Layout: <hierarchy>/<runner's own cgroup>/runner/<pid>.<start>/<job>,
// where pid and start (its start time in clock ticks) name the runner
// process, so that the next runner can tell the directories of a runner
// that died (kill -9) from a live one's and sweep them. <pid>.<start> is
// removed with the runner's last running job.
//
// Hierarchies, by preference: cgroup v2 alone (/sys/fs/cgroup), the v2
// hierarchy of a hybrid system (/sys/fs/cgroup/unified), the v1 freezer
// (/sys/fs/cgroup/freezer). In v2 a step starts inside the job's cgroup
// (clone3 CLONE_INTO_CGROUP) and the end writes cgroup.kill; in v1 a
// thread of the job's own, in the job's cgroup, starts its steps, and the
// end freezes the cgroup, kills every process, then thaws it: nothing
// forks in between. Without a writable hierarchy (not root) there are no
// job cgroups: RUNNER_TRACKING_ID is what finds leftovers then.

// cgroupRoot is this process's place in one hierarchy.
type cgroupRoot struct {
	v2   bool
	base string // .../runner/<pid>.<start>: the jobs' parent
	// ownTasks is v1's tasks file of runner's own cgroup, where a thread
	// returns after starting a step.
	ownTasks *os.File
	noClone3 atomic.Bool // v2: clone3 was refused; steps join after their start
}

var (
	cgroupOnce sync.Once
	cgroups    *cgroupRoot // nil: no job cgroups
)

// SweepStale ends the processes and removes the job cgroups of runners
// that are gone (killed with -9, or crashed). A service calls it when it
// starts; otherwise the first job of a process does.
func SweepStale() { jobCgroups() }

// jobCgroups returns this process's cgroup root, set up (and stale
// directories swept) on first use; nil when cgroups are not writable.
func jobCgroups() *cgroupRoot {
	cgroupOnce.Do(func() { cgroups = setupCgroups("/sys/fs/cgroup", "/proc/self/cgroup") })
	return cgroups
}

// setupCgroups finds a hierarchy under mount, given /proc/self/cgroup.
func setupCgroups(mount, self string) *cgroupRoot {
	own := map[string]string{} // "" (v2) or controller → runner's cgroup path
	if data, err := os.ReadFile(self); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 {
				continue
			}
			for _, c := range strings.Split(parts[1], ",") {
				own[c] = parts[2]
			}
		}
	}
	type cand struct {
		dir, ctl string
		v2       bool
	}
	var cands []cand
	if exists(filepath.Join(mount, "cgroup.controllers")) {
		cands = append(cands, cand{mount, "", true})
	} else {
		cands = append(cands, cand{filepath.Join(mount, "unified"), "", true}, cand{filepath.Join(mount, "freezer"), "freezer", false})
	}
	for _, c := range cands {
		path, ok := own[c.ctl]
		if !ok || !exists(filepath.Join(c.dir, "cgroup.procs")) {
			continue
		}
		if c.v2 && !exists(filepath.Join(c.dir, "cgroup.controllers")) {
			continue
		}
		if r := newCgroupRoot(filepath.Join(c.dir, path), c.v2); r != nil {
			return r
		}
	}
	return nil
}

// newCgroupRoot makes runner/<pid>.<start> under runner's own cgroup dir,
// sweeping what dead runners left there; nil when that is not possible.
func newCgroupRoot(ownDir string, v2 bool) *cgroupRoot {
	parent := filepath.Join(ownDir, "runner")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil
	}
	me := procName(os.Getpid())
	if me == "" {
		return nil
	}
	sweepCgroups(parent, v2, me)
	r := &cgroupRoot{v2: v2, base: filepath.Join(parent, me)}
	if err := os.Mkdir(r.base, 0o755); err != nil && !os.IsExist(err) {
		return nil
	}
	if !v2 {
		f, err := os.OpenFile(filepath.Join(ownDir, "tasks"), os.O_WRONLY, 0)
		if err != nil {
			os.Remove(r.base)
			return nil
		}
		r.ownTasks = f
	}
	return r
}

// procName is "<pid>.<start time>" of a live process, "" for none.
func procName(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command (field 2) may hold spaces and parentheses: fields
	// count from the last ')'. Start time is field 22.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return strconv.Itoa(pid) + "." + f[19]
}

// sweepCgroups empties and removes the directories under parent of
// runners that are gone.
func sweepCgroups(parent string, v2 bool, me string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		name := e.Name()
		pid, _, ok := strings.Cut(name, ".")
		n, err := strconv.Atoi(pid)
		if !e.IsDir() || !ok || err != nil || name == me || procName(n) == name {
			continue
		}
		g := &jobCgroup{dir: filepath.Join(parent, name), v2: v2, fd: -1}
		g.killAll()
		g.remove()
	}
}

// jobCgroup is the cgroup of one job.
type jobCgroup struct {
	root  *cgroupRoot
	dir   string
	v2    bool
	fd    int      // v2: the directory, for CLONE_INTO_CGROUP; -1 if not open
	tasks *os.File // v1: the job's tasks file

	// v1: the job's starting thread (starter), from the first step on.
	starts      chan startReq
	starterDone chan struct{}
	tid         int // the starter's thread id while it is in the job's cgroup
}

// newJob makes the cgroup of a job; nil when it cannot (the job then runs
// without one).
func (r *cgroupRoot) newJob(name string) *jobCgroup {
	if r == nil {
		return nil
	}
	g := &jobCgroup{root: r, dir: filepath.Join(r.base, name), v2: r.v2, fd: -1}
	// The last job's end removes base; a job ending meanwhile may remove
	// it between the two calls: then again.
	err := os.ErrNotExist
	for try := 0; try < 3 && errors.Is(err, os.ErrNotExist); try++ {
		if err = os.MkdirAll(r.base, 0o755); err == nil {
			err = os.Mkdir(g.dir, 0o755)
		}
	}
	if err != nil {
		return nil
	}
	if g.v2 {
		g.fd, err = syscall.Open(g.dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	} else {
		g.tasks, err = os.OpenFile(filepath.Join(g.dir, "tasks"), os.O_WRONLY, 0)
	}
	if err != nil {
		g.remove()
		return nil
	}
	return g
}

// start starts cmd inside the job's cgroup (outside it when g is nil or
// the cgroup refuses) and returns the command that runs: a copy of cmd
// when the system has no clone3 (a seccomp filter may refuse it), which
// then joins the cgroup just after its start.
func (g *jobCgroup) start(cmd *exec.Cmd) (*exec.Cmd, error) {
	if g == nil {
		return cmd, cmd.Start()
	}
	if g.v2 {
		if g.root.noClone3.Load() {
			return g.startThenJoin(cmd)
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, g.fd
		err := cmd.Start()
		if err != nil && errors.Is(err, syscall.ENOSYS) {
			g.root.noClone3.Store(true)
			attr := *cmd.SysProcAttr
			attr.UseCgroupFD = false
			again := &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir, Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr, SysProcAttr: &attr}
			return g.startThenJoin(again)
		}
		return cmd, err
	}
	// v1: a child starts in its forking thread's cgroup. Moving a thread
	// costs milliseconds (the kernel waits for an RCU grace period), so
	// each job has a thread of its own, moved into the job's cgroup once,
	// that starts all of the job's steps.
	if g.starts == nil {
		g.starts, g.starterDone = make(chan startReq), make(chan struct{})
		go g.starter()
	}
	req := startReq{cmd: cmd, err: make(chan error, 1)}
	g.starts <- req
	return cmd, <-req.err
}

// startThenJoin starts cmd and moves it into the job's cgroup: what it
// forks before the move stays out (RUNNER_TRACKING_ID still finds that).
func (g *jobCgroup) startThenJoin(cmd *exec.Cmd) (*exec.Cmd, error) {
	cmd.SysProcAttr.UseCgroupFD = false
	if err := cmd.Start(); err != nil {
		return cmd, err
	}
	_ = os.WriteFile(filepath.Join(g.dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0)
	return cmd, nil
}

// startReq asks a job's starter thread to start a command.
type startReq struct {
	cmd *exec.Cmd
	err chan error
}

// starter is the v1 job's starting thread: locked to its goroutine for
// good, so that no other code ever runs in the job's cgroup. When starts
// closes it goes back to runner's cgroup and ends, taking its thread.
func (g *jobCgroup) starter() {
	defer close(g.starterDone)
	runtime.LockOSThread()
	g.tid = syscall.Gettid()
	tid := []byte(strconv.Itoa(g.tid))
	_, _ = g.tasks.WriteAt(tid, 0) // on failure: steps start outside, tracked only
	for req := range g.starts {
		req.err <- req.cmd.Start()
	}
	if _, err := g.root.ownTasks.WriteAt(tid, 0); err == nil {
		g.tid = 0
	}
}

// stopStarter ends a v1 job's starting thread before its cgroup freezes.
func (g *jobCgroup) stopStarter() {
	if g.starts == nil {
		return
	}
	close(g.starts)
	<-g.starterDone
	// A thread that could not move back ends with its goroutine: wait
	// until it has left the cgroup.
	for i := 0; g.tid != 0 && i < 200 && exists("/proc/self/task/"+strconv.Itoa(g.tid)); i++ {
		time.Sleep(5 * time.Millisecond)
	}
}

// procs lists the processes in the job's cgroup and below.
func (g *jobCgroup) procs() []int {
	var pids []int
	filepath.WalkDir(g.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		f, err := os.Open(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// end stops what is left in the job's cgroup (SIGTERM, then after grace
// SIGKILL to everything at once) and removes it.
func (g *jobCgroup) end(grace time.Duration) {
	if g == nil {
		return
	}
	g.stopStarter()
	if pids := g.procs(); len(pids) > 0 {
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGTERM)
		}
		for deadline := time.Now().Add(grace); time.Now().Before(deadline) && len(g.procs()) > 0; {
			time.Sleep(20 * time.Millisecond)
		}
		g.killAll()
	}
	if g.fd >= 0 {
		syscall.Close(g.fd)
	}
	if g.tasks != nil {
		g.tasks.Close()
	}
	g.remove()
	// The runner's directory goes with its last job (EBUSY while other
	// jobs have theirs).
	_ = syscall.Rmdir(g.root.base)
}

// killAll kills every process in the cgroup and below, atomically: with
// cgroup.kill (v2, Linux 5.14), else frozen so that none forks meanwhile.
func (g *jobCgroup) killAll() {
	pids := g.procs()
	if len(pids) == 0 {
		return
	}
	for _, p := range pids {
		if p == os.Getpid() {
			// A thread of runner's is in there: freezing would freeze
			// runner. Kill the others one by one.
			for _, p := range pids {
				if p != os.Getpid() {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
			return
		}
	}
	if g.v2 && os.WriteFile(filepath.Join(g.dir, "cgroup.kill"), []byte("1"), 0) == nil {
		return
	}
	freeze, thaw := filepath.Join(g.dir, "freezer.state"), "THAWED"
	frozen := func() bool { data, _ := os.ReadFile(freeze); return strings.TrimSpace(string(data)) == "FROZEN" }
	if g.v2 {
		freeze, thaw = filepath.Join(g.dir, "cgroup.freeze"), "0"
		frozen = func() bool {
			data, _ := os.ReadFile(filepath.Join(g.dir, "cgroup.events"))
			return bytes.Contains(data, []byte("frozen 1"))
		}
		_ = os.WriteFile(freeze, []byte("1"), 0)
	} else {
		_ = os.WriteFile(freeze, []byte("FROZEN"), 0)
	}
	for deadline := time.Now().Add(time.Second); !frozen() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	for _, p := range g.procs() {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	_ = os.WriteFile(freeze, []byte(thaw), 0)
}

// remove deletes the cgroup and those below, once their processes are
// gone (killed processes take a moment to leave).
func (g *jobCgroup) remove() {
	var dirs []string
	filepath.WalkDir(g.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		for deadline := time.Now().Add(2 * time.Second); ; {
			err := syscall.Rmdir(dirs[i])
			if err == nil || !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
