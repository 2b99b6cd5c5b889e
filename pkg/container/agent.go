package container

import (
	"bufio"
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

// The job container's agent: the container's process (pid 1 in its pid
// namespace) is runner's own binary, bind-mounted read-only at agentPath,
// and it starts each step's process on request instead of a `runc exec`
// each (runc builds the seccomp filter, joins the namespaces and the
// cgroup for every exec: ≈ 40 ms, against ≈ 1 ms for a fork and exec by
// a process already inside).
//
// The agent talks to runner over a unix socket pair: runc passes one end
// to it as fd 3 (`runc run --preserve-fds 1`), so no socket file, path or
// permission is involved. Per process, runner sends over that control
// socket, as SCM_RIGHTS, one end of a new socket pair and the file that
// becomes the process's stdout and stderr; on the new socket it sends the
// request (agentRequest, one JSON line) and later signals, and receives
// the pid, then the exit status (agentReply lines).
//
// When runner's end of the control socket closes (Destroy, or runner
// killed) the agent exits, and with it, as pid 1, every process of the
// container. When runner closes a process's socket before that process
// has ended, its process group is killed.
//
// Any binary that links this package can be the agent: init below turns
// it into one when it is started with agentArg (as docker's reexec does),
// so runner's binary and the test binaries of the packages that start job
// containers all work.

const (
	agentArg  = "__runner-job-container-agent"
	agentPath = "/__e/runner-agent"
	agentFD   = 3
)

func init() {
	if len(os.Args) == 2 && os.Args[1] == agentArg {
		os.Exit(agentMain())
	}
}

// agentRequest starts a process: Args[0] is looked up on Env's PATH.
type agentRequest struct {
	Args []string `json:"args,omitempty"`
	Env  []string `json:"env,omitempty"`
	Cwd  string   `json:"cwd,omitempty"`
	// Signal, on a started process's socket, is sent to its process group
	// and every process under it.
	Signal int `json:"signal,omitempty"`
}

// agentReply is the agent's answer: the pid once started, the exit status
// once ended, or why the process could not start.
type agentReply struct {
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

func agentMain() int {
	f := os.NewFile(agentFD, "control")
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
	a := &agent{mine: map[int]bool{}}
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
	var req agentRequest
	line, err := r.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	if err != nil || len(req.Args) == 0 {
		out.Close()
		_ = enc.Encode(agentReply{Error: fmt.Sprintf("bad request: %v", err)})
		return
	}
	cmd := &exec.Cmd{Path: lookPathIn(req.Args[0], req.Env), Args: req.Args, Env: req.Env, Dir: req.Cwd, Stdout: out, Stderr: out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.mu.Lock()
	err = cmd.Start()
	if err == nil {
		a.mine[cmd.Process.Pid] = true
	}
	a.mu.Unlock()
	out.Close()
	if err != nil {
		_ = enc.Encode(agentReply{Error: err.Error()})
		return
	}
	pid := cmd.Process.Pid
	_ = enc.Encode(agentReply{Pid: pid})
	var exited atomic.Bool
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		// Signals until runner closes the socket; a close before the
		// process ended abandons it: its group is killed.
		for {
			line, err := r.ReadBytes('\n')
			var s agentRequest
			if err != nil || json.Unmarshal(line, &s) != nil {
				break
			}
			if s.Signal > 0 {
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
	rep := agentReply{Exited: true}
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

// signalTree sends sig to pid's process group and to every process under
// pid (one that left the group included).
func signalTree(pid int, sig syscall.Signal) {
	// The group first, as on the host: a shell must see the signal
	// before it sees its child end of it.
	under := descendants(pid)
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
