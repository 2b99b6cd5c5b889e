package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

// ProcessTransport runs each leg as a child process, `runner job --stdio`,
// on this machine (runner exec --executor process): the protocol of a
// remote leg without a cluster, to debug it and to test it.
type ProcessTransport struct {
	// Path is the runner binary. Default: this process's executable.
	Path string
	// Env is the child's environment (what its steps start from, as
	// Options.Env). Default: the leg's (LegInfo.Env: the run's Options.Env
	// without runner's variables), so steps see what local ones would.
	Env []string
	// Started, when set, is told each child's process id (tests).
	Started func(leg LegInfo, pid int)
}

// Open starts the child. It is in a process group of its own, which Kill
// ends as a whole.
func (p *ProcessTransport) Open(ctx context.Context, leg LegInfo) (LegConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := p.Path
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		path = exe
	}
	cmd := exec.Command(path, "job", "--stdio")
	cmd.Env = p.Env
	if cmd.Env == nil {
		cmd.Env = leg.Env
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &processConn{cmd: cmd, stdin: stdin, stdout: stdout}
	cmd.Stderr = &c.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s job --stdio: %w", path, err)
	}
	if p.Started != nil {
		p.Started(leg, cmd.Process.Pid)
	}
	return c, nil
}

// processConn is a child process's end of a leg.
type processConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Reader
	stderr tailBuffer

	mu     sync.Mutex
	reaped bool // Wait returned: the process id may be another's now
}

func (c *processConn) Stdin() io.WriteCloser { return c.stdin }
func (c *processConn) Stdout() io.Reader     { return c.stdout }

// Wait waits for the child; its failure says how it ended and the end of
// what it wrote to stderr.
func (c *processConn) Wait() error {
	err := c.cmd.Wait()
	c.mu.Lock()
	c.reaped = true
	c.mu.Unlock()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			err = fmt.Errorf("%s job --stdio was killed by signal %s", c.cmd.Path, st.Signal())
		} else {
			err = fmt.Errorf("%s job --stdio: %s", c.cmd.Path, ee)
		}
	}
	if tail := strings.TrimSpace(c.stderr.String()); tail != "" {
		return fmt.Errorf("%w; its stderr ends: %s", err, tail)
	}
	return err
}

// Kill ends the child's process group at once.
func (c *processConn) Kill() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reaped {
		return nil
	}
	if err := syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// tailBuffer keeps the last tailMax bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 2 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.ToValidUTF8(string(t.buf), "")
}
