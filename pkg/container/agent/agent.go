// Package agent is the job and service containers' agent: runner's own
// binary as a container's pid 1, starting processes on request (see
// pkg/container's agent.go for the protocol). It is a package of its own,
// with only the standard library and x/sys beneath it, so that its init
// runs before those of runner's other dependencies: a binary started as
// the agent answers within a few milliseconds instead of after every
// package's init (≈ 20 ms in the run tests' binary, more under load).
package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Arg, as the only argument, makes a binary that links this package the
// agent.
const Arg = "__runner-job-container-agent"

// fd is the control socket's descriptor in the agent.
const fd = 3

// The agent's arguments are Arg, then for a service container "--" and
// the image's entrypoint and command (its main process).
func init() {
	if len(os.Args) >= 2 && os.Args[1] == Arg {
		var main []string
		if len(os.Args) > 3 && os.Args[2] == "--" {
			main = os.Args[3:]
		}
		os.Exit(agentMain(main))
	}
}

// Request starts a process: Args[0] is looked up on Env's PATH (the
// agent's own environment's when Env is nil).
type Request struct {
	Args []string `json:"args,omitempty"`
	Env  []string `json:"env,omitempty"`
	Cwd  string   `json:"cwd,omitempty"`
	// Signal, on a started process's socket, is sent to its process group
	// and every process under it; to the process alone with Only.
	Signal int  `json:"signal,omitempty"`
	Only   bool `json:"only,omitempty"`
}

// Reply is the agent's answer: the pid once started, the exit status
// once ended, or why the process could not start.
type Reply struct {
	Pid    int    `json:"pid,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Code   int    `json:"code,omitempty"`
	Signal int    `json:"signal,omitempty"` // the signal that killed it
	Error  string `json:"error,omitempty"`
}

// agent is the running agent's state: the processes it started, which
// its reaper must leave to their own Wait.
type agent struct {
	mu   sync.Mutex
	mine map[int]bool
}

func agentMain(main []string) int {
	a := &agent{mine: map[int]bool{}}
	if len(main) > 0 {
		// First, before the control socket: the service's start is not
		// to wait for runner.
		if err := a.startMain(main); err != nil {
			fmt.Fprintln(os.Stderr, "runner agent:", err) // into the service's log
			return 127                                    // as a shell that cannot find a command
		}
	}
	f := os.NewFile(fd, "control")
	ctl, err := net.FileConn(f)
	f.Close() // a duplicate: fd 3 itself is not to be inherited by the steps
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner agent:", err)
		return 1
	}
	uc, ok := ctl.(*net.UnixConn)
	if !ok {
		fmt.Fprintln(os.Stderr, "runner agent: fd 3 is not a unix socket")
		return 1
	}
	go a.reap()
	// No signal is ignored here: an ignored signal stays ignored in
	// every process the agent starts (execve keeps SIG_IGN). As pid 1 of
	// its namespace the agent gets no signal it has no handler for from
	// inside the container anyway.
	if _, err := uc.Write([]byte{'.'}); err != nil { // ready
		return 1
	}
	buf, oob := make([]byte, 16), make([]byte, unix.CmsgSpace(3*4))
	for {
		_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil {
			return 0 // runner's end closed: the container ends with us
		}
		fds, err := receivedFDs(oob[:oobn])
		if err != nil || len(fds) != 2 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			continue
		}
		go a.serve(os.NewFile(uintptr(fds[0]), "request"), os.NewFile(uintptr(fds[1]), "output"))
	}
}

func receivedFDs(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err != nil {
			return nil, err
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

// serve runs one process: the request from sock, output to out.
func (a *agent) serve(sock, out *os.File) {
	conn, err := net.FileConn(sock)
	sock.Close()
	if err != nil {
		out.Close()
		return
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	enc := json.NewEncoder(conn)
	var req Request
	line, err := r.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	if err != nil || len(req.Args) == 0 {
		out.Close()
		_ = enc.Encode(Reply{Error: fmt.Sprintf("bad request: %v", err)})
		return
	}
	pathEnv := req.Env
	if pathEnv == nil {
		pathEnv = os.Environ() // nil: the agent's own, which the process gets
	}
	cmd := &exec.Cmd{Path: lookPathIn(req.Args[0], pathEnv), Args: req.Args, Env: req.Env, Dir: req.Cwd, Stdout: out, Stderr: out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.mu.Lock()
	err = cmd.Start()
	if err == nil {
		a.mine[cmd.Process.Pid] = true
	}
	a.mu.Unlock()
	out.Close()
	if err != nil {
		_ = enc.Encode(Reply{Error: err.Error()})
		return
	}
	pid := cmd.Process.Pid
	_ = enc.Encode(Reply{Pid: pid})
	var exited atomic.Bool
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		// Signals until runner closes the socket; a close before the
		// process ended abandons it: its group is killed.
		for {
			line, err := r.ReadBytes('\n')
			var s Request
			if err != nil || json.Unmarshal(line, &s) != nil {
				break
			}
			switch {
			case s.Signal > 0 && s.Only:
				_ = syscall.Kill(pid, syscall.Signal(s.Signal))
			case s.Signal > 0:
				signalTree(pid, syscall.Signal(s.Signal))
			}
		}
		if !exited.Load() {
			signalTree(pid, syscall.SIGKILL)
		}
	}()
	err = cmd.Wait()
	a.mu.Lock()
	delete(a.mine, pid)
	a.mu.Unlock()
	rep := Reply{Exited: true}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		rep.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			rep.Signal = int(ws.Signal())
		}
	case err != nil:
		rep.Code, rep.Error = -1, err.Error()
	}
	exited.Store(true)
	_ = enc.Encode(rep)
	// Runner may still signal what the process left behind (the
	// goroutine above); it closes the socket when it is done.
	<-closed
}

// startMain starts a service container's own process (the image's
// entrypoint and command, as `docker run --init` has tini do) with the
// agent's environment, working directory and stdio: SIGTERM and SIGINT
// sent to the agent are passed on to it (not to its group, as docker and
// tini do), and when it ends the agent exits with its status (128+n when
// signal n killed it), which ends the container as the process's own end
// would have.
func (a *agent) startMain(args []string) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	cmd := &exec.Cmd{Path: lookPathIn(args[0], os.Environ()), Args: args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.mu.Lock()
	err := cmd.Start()
	if err == nil {
		a.mine[cmd.Process.Pid] = true
	}
	a.mu.Unlock()
	if err != nil {
		return err
	}
	pid := cmd.Process.Pid
	go func() {
		for sig := range sigs {
			_ = syscall.Kill(pid, sig.(syscall.Signal))
		}
	}()
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				os.Exit(128 + int(ws.Signal()))
			}
			os.Exit(ee.ExitCode())
		}
		if err != nil {
			os.Exit(127)
		}
		os.Exit(0)
	}()
	return nil
}

// signalTree sends sig to pid's process group and to every process under
// pid (one that left the group included).
func signalTree(pid int, sig syscall.Signal) {
	// The group first, as on the host: a shell must see the signal
	// before it sees its child end of it.
	under := Descendants(pid)
	_ = syscall.Kill(-pid, sig)
	for _, p := range under {
		_ = syscall.Kill(p, sig)
	}
}

// reap collects the zombies pid 1 inherits (orphaned grandchildren of the
// steps), leaving the agent's own children to their Wait.
func (a *agent) reap() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGCHLD)
	for range ch {
		a.mu.Lock()
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || a.mine[pid] {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			i := strings.LastIndexByte(string(b), ')')
			if f := strings.Fields(string(b[i+1:])); i > 0 && len(f) > 1 && f[0] == "Z" && f[1] == "1" {
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			}
		}
		a.mu.Unlock()
	}
}

// lookPathIn resolves name on the PATH of env, as runc exec does; a name
// it cannot resolve is returned as is, for exec to report.
func lookPathIn(name string, env []string) string {
	if strings.ContainsRune(name, '/') {
		return name
	}
	pathVar := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}

// Stat is the fields of /proc/PID/stat after the command's name (which
// may hold spaces and parentheses): [0] is the state, [1] the parent,
// [19] the start time. Nil when the process is gone.
func Stat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return nil
	}
	return f
}

// Parent is pid's parent, from /proc; false if pid is gone.
func Parent(pid int) (int, bool) {
	f := Stat(pid)
	if f == nil {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// Descendants are the processes under pid, from /proc.
func Descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := Parent(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, ch := range children[p] {
			out = append(out, ch)
			walk(ch)
		}
	}
	walk(pid)
	return out
}
