package container

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Runner's side of the job container's agent (agent.go).

// agentBinary is the executable to run as the agent of a container whose
// root is rootfs: runner's own. why says why it cannot run there (a
// dynamically linked binary whose loader or libraries the image lacks).
func agentBinary(rootfs string) (exe, why string) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Sprintf("runner's executable: %v", err)
	}
	interp := ELFInterpreter(exe)
	if interp == "" {
		return exe, "" // static (CGO_ENABLED=0, as `make` builds runner)
	}
	missing := []string{}
	if !existsIn(rootfs, interp) {
		missing = append(missing, interp)
	}
	if f, err := elf.Open(exe); err == nil {
		libs, _ := f.ImportedLibraries()
		f.Close()
		for _, l := range libs {
			found := false
			for _, d := range []string{"/lib", "/usr/lib", "/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"} {
				if existsIn(rootfs, d+"/"+l) {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, l)
			}
		}
	}
	if len(missing) > 0 {
		return "", fmt.Sprintf("runner's binary %s is dynamically linked and the image lacks %s", exe, strings.Join(missing, ", "))
	}
	return exe, ""
}

func existsIn(rootfs, p string) bool {
	hp, err := securejoin.SecureJoin(rootfs, p)
	if err != nil {
		return false
	}
	_, err = os.Stat(hp)
	return err == nil
}

// ELFInterpreter is the dynamic loader an ELF executable names (its
// PT_INTERP), "" for a static one or a file that is not ELF.
func ELFInterpreter(file string) string {
	f, err := elf.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return ""
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}

// socketPair is a connected pair of unix stream sockets, close-on-exec.
func socketPair() (a, b *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "agent-runner"), os.NewFile(uintptr(fds[1]), "agent"), nil
}

// agentConn is runner's end of the agent's control socket.
type agentConn struct {
	mu   sync.Mutex // one message at a time
	conn *net.UnixConn
}

func newAgentConn(f *os.File) (*agentConn, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	return &agentConn{conn: c.(*net.UnixConn)}, nil
}

// waitReady waits for the byte the agent writes once it runs.
func (a *agentConn) waitReady(ctx context.Context, done <-chan struct{}) error {
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := a.conn.Read(b)
		ready <- err
	}()
	select {
	case err := <-ready:
		return err
	case <-done:
		return errors.New("the container stopped at once")
	case <-ctx.Done():
		_ = a.conn.SetReadDeadline(time.Now())
		return ctx.Err()
	case <-time.After(10 * time.Second):
		_ = a.conn.SetReadDeadline(time.Now())
		return errors.New("the agent did not answer within 10s")
	}
}

// Process is a process the job container's agent started (Start).
type Process struct {
	Pid  int // in the container's pid namespace
	conn *net.UnixConn
	r    *bufio.Reader
	mu   sync.Mutex // one signal line at a time
}

// Agent reports whether the container's processes start through its
// agent (Start); when not, why, and ExecCommand is the way in.
func (c *JobContainer) Agent() (ok bool, why string) {
	return c.agent != nil, c.agentWhy
}

// Start has the agent start args in the container with env (complete:
// nothing is added) in cwd, as the container's user, in a process group
// of its own, stdin /dev/null, stdout and stderr to out (which the caller
// may close once Start returns).
func (c *JobContainer) Start(args, env []string, cwd string, out *os.File) (*Process, error) {
	if len(args) == 0 {
		return nil, errors.New("job container: exec of nothing")
	}
	c.mu.Lock()
	a, destroyed := c.agent, c.destroyed
	c.mu.Unlock()
	if destroyed {
		return nil, errors.New("job container: exec after Destroy")
	}
	if a == nil {
		return nil, errors.New("job container: no agent")
	}
	return a.start(args, env, cwd, out)
}

// start has the agent start a process (see JobContainer.Start); env nil
// is the agent's own environment, cwd "" its working directory.
func (a *agentConn) start(args, env []string, cwd string, out *os.File) (*Process, error) {
	mine, theirs, err := socketPair()
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	_, _, err = a.conn.WriteMsgUnix([]byte{'p'}, unix.UnixRights(int(theirs.Fd()), int(out.Fd())), nil)
	a.mu.Unlock()
	theirs.Close()
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("container agent: %w", err)
	}
	fc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, err
	}
	p := &Process{conn: fc.(*net.UnixConn)}
	p.r = bufio.NewReader(p.conn)
	req, _ := json.Marshal(agentRequest{Args: args, Env: env, Cwd: cwd})
	rep, err := p.send(append(req, '\n'))
	if err == nil && rep.Error != "" {
		err = errors.New(rep.Error)
	}
	if err != nil {
		p.conn.Close()
		return nil, fmt.Errorf("start %s in the container: %w", args[0], err)
	}
	p.Pid = rep.Pid
	return p, nil
}

func (p *Process) send(line []byte) (agentReply, error) {
	var rep agentReply
	if _, err := p.conn.Write(line); err != nil {
		return rep, err
	}
	b, err := p.r.ReadBytes('\n')
	if err != nil {
		return rep, fmt.Errorf("agent: %w", err)
	}
	return rep, json.Unmarshal(b, &rep)
}

// Interrupt sends sig to the process alone.
func (p *Process) Interrupt(sig syscall.Signal) error {
	return p.request(agentRequest{Signal: int(sig), Only: true})
}

// Signal sends sig to the process's group and every process under it,
// also after the process ended (what it left behind).
func (p *Process) Signal(sig syscall.Signal) error {
	return p.request(agentRequest{Signal: int(sig)})
}

// request sends a request on the process's socket.
func (p *Process) request(req agentRequest) error {
	b, _ := json.Marshal(req)
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.conn.Write(append(b, '\n'))
	return err
}

// ExitStatus is how a process ended: its exit code, or the signal that
// killed it.
type ExitStatus struct {
	Code   int
	Signal syscall.Signal
}

// Wait waits until the process ends. An error means the agent was lost
// (the container ended).
func (p *Process) Wait() (ExitStatus, error) {
	b, err := p.r.ReadBytes('\n')
	if err != nil {
		return ExitStatus{Code: -1}, fmt.Errorf("job container agent: %w", err)
	}
	var rep agentReply
	if err := json.Unmarshal(b, &rep); err != nil || !rep.Exited {
		return ExitStatus{Code: -1}, fmt.Errorf("job container agent: unexpected reply %q", b)
	}
	if rep.Error != "" {
		return ExitStatus{Code: -1}, errors.New(rep.Error)
	}
	return ExitStatus{Code: rep.Code, Signal: syscall.Signal(rep.Signal)}, nil
}

// Close releases the process's socket; a process still running is killed
// with its group.
func (p *Process) Close() error { return p.conn.Close() }
