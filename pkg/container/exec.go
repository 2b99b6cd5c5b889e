package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Execer is a Container that can run another process inside itself, as
// `docker exec` does (health checks of service containers).
type Execer interface {
	// Exec runs args in the running container with its environment, user
	// and working directory, and returns the exit code and the combined
	// output (the last 4 KiB). When ctx ends first, the process is killed
	// and ctx's error returned.
	Exec(ctx context.Context, args []string) (code int, out []byte, err error)
}

var _ Execer = (*runcContainer)(nil)

// Exec is a fork and exec by the container's agent (Spec.ExecAgent),
// else `runc exec`. Either way the process has the container's
// namespaces, root, cgroups, user, capabilities, seccomp filter,
// environment and working directory.
func (c *runcContainer) Exec(ctx context.Context, args []string) (int, []byte, error) {
	if len(args) == 0 {
		return -1, nil, errors.New("container: exec of nothing")
	}
	c.mu.Lock()
	started, destroyed := c.cmd != nil, c.destroyed
	c.mu.Unlock()
	if !started || destroyed {
		return -1, nil, errors.New("container: Exec before Start or after Destroy")
	}
	if c.agentExe != "" {
		return c.agentExec(ctx, args)
	}
	return c.runcExec(ctx, args)
}

// agentExec has the agent start args once the container's own process
// has started. When ctx ends first, the process's group is killed.
func (c *runcContainer) agentExec(ctx context.Context, args []string) (int, []byte, error) {
	select {
	case <-c.agentUp:
	case <-ctx.Done():
		return -1, nil, ctx.Err()
	}
	if c.agentErr != nil {
		return -1, nil, c.agentErr
	}
	r, w, err := os.Pipe()
	if err != nil {
		return -1, nil, err
	}
	defer r.Close()
	p, err := c.agent.start(args, nil, "", w)
	w.Close()
	if err != nil {
		return -1, nil, err
	}
	defer p.Close() // a process still running is killed with its group
	var out tailBuffer
	out.max = 4096
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&out, r)
	}()
	type result struct {
		st  ExitStatus
		err error
	}
	waited := make(chan result, 1)
	go func() {
		st, err := p.Wait()
		waited <- result{st, err}
	}()
	select {
	case res := <-waited:
		// What the process left running may hold the pipe: its output
		// is what came until shortly after it ended.
		_ = r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		<-copied
		if res.err != nil {
			return -1, out.Bytes(), res.err
		}
		if res.st.Signal > 0 {
			return 128 + int(res.st.Signal), out.Bytes(), nil
		}
		return res.st.Code, out.Bytes(), nil
	case <-ctx.Done():
		p.Close()
		_ = r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		<-copied
		return -1, out.Bytes(), ctx.Err()
	}
}

// runcExec is `runc exec`. The process's pid goes to a file in the bundle,
// so that a process that outlives ctx is killed inside the container, not
// only the runc that started it.
func (c *runcContainer) runcExec(ctx context.Context, args []string) (int, []byte, error) {
	c.waitCreated(ctx)
	pidFile := filepath.Join(c.bundle, "exec-"+newID()+".pid")
	defer os.Remove(pidFile)
	rargs := []string{}
	if c.r.opts.Root != "" {
		rargs = append(rargs, "--root", c.r.opts.Root)
	}
	rargs = append(rargs, "exec", "--pid-file", pidFile, c.id)
	rargs = append(rargs, args...)
	cmd := exec.Command(c.r.opts.Runc, rargs...)
	var out tailBuffer
	out.max = 4096
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return -1, nil, fmt.Errorf("runc exec: %w", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return -1, out.Bytes(), fmt.Errorf("runc exec: %w", err)
		}
		return cmd.ProcessState.ExitCode(), out.Bytes(), nil
	case <-ctx.Done():
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		select {
		case <-waited:
		case <-time.After(2 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waited
		}
		return -1, out.Bytes(), ctx.Err()
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte { return bytes.Clone(t.buf.Bytes()) }
