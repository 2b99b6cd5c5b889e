package kubetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is one component of the cluster, its output in DIR/logs/NAME.log.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// componentEnv is the whole environment of a component: it inherits
// nothing of the test process (no KUBECONFIG, proxies or credentials).
func componentEnv(dir string) []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + dir,
		"TMPDIR=" + filepath.Join(dir, "tmp"),
	}
}

func (c *Cluster) start(name, path string, args ...string) (*proc, error) {
	logs := filepath.Join(c.Dir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return nil, err
	}
	p := &proc{name: name, log: filepath.Join(logs, name+".log"), done: make(chan struct{})}
	f, err := os.OpenFile(p.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p.cmd = exec.Command(path, args...)
	p.cmd.Dir = c.Dir
	p.cmd.Env = componentEnv(c.Dir)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	// Its own process group, so a ^C of the test reaches us, not it; and
	// killed with the test process if that dies first (the next Start
	// sweeps what remains).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	c.logf("started %s (pid %d, log %s)", name, p.cmd.Process.Pid, p.log)
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and, after grace, SIGKILL, and waits for the exit.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the end of the component's log, for an error message.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls ready until it returns nil, failing early when p exits.
// Each new answer of ready goes to the cluster's log.
func (c *Cluster) waitFor(ctx context.Context, p *proc, timeout time.Duration, what string, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited while waiting for %s (%v); %s:\n%s", p.name, what, p.err, p.log, p.tail())
		}
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if last == nil || err.Error() != last.Error() {
			msg := err.Error()
			if len(msg) > 160 {
				msg = msg[:160] + "…"
			}
			c.logf("waiting for %s: %s", what, msg)
		}
		last = err
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("%s: %v (last: %v)", what, ctx.Err(), last)
			if p != nil {
				msg += fmt.Sprintf("; %s:\n%s", p.log, p.tail())
			}
			return fmt.Errorf("%s", msg)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePorts picks n free loopback TCP ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
