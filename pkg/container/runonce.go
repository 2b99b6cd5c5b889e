package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// RunSpec is the process of a container that runs once (RunOnce): a
// Docker container action or a `docker://` step.
type RunSpec struct {
	// Entrypoint replaces the image's Entrypoint and drops its Cmd when not
	// nil (`docker run --entrypoint`).
	Entrypoint []string
	// Args replace the image's Cmd when not nil.
	Args []string
	// When ctx ends, the process gets SIGINT, SIGTERM after Interrupt
	// and SIGKILL after Grace more (default 0 and 10 s: no SIGINT); at
	// once when Force is closed.
	Interrupt time.Duration
	Grace     time.Duration
	Force     <-chan struct{}
}

// ErrNoExitCode is returned by RunOnce when the container was stopped
// because its context ended.
var ErrNoExitCode = errors.New("container stopped")

// RunOnce runs a container laid out as a job container (the overlay over
// the cached image, the host's network, s.Mounts) with run's process in
// the foreground, its stdout and stderr to out, and returns its exit code.
// When ctx ends, the process gets SIGINT (if run.Interrupt is set), SIGTERM
// after run.Interrupt, SIGKILL after run.Grace, and ctx's error is
// returned. Whatever happens, the container, its overlay and its bundle
// are removed before RunOnce returns.
func (r *Runc) RunOnce(ctx context.Context, s JobSpec, run RunSpec, out io.Writer) (int, error) {
	c, err := r.prepareJob(ctx, s, &run, false)
	if err != nil {
		return -1, err
	}
	defer func() { _ = c.Destroy(context.WithoutCancel(ctx)) }()
	if run.Grace <= 0 {
		run.Grace = 10 * time.Second
	}
	cmd := exec.Command(r.opts.Runc, r.args("run", "--bundle", c.bundle, c.id)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := startRunc(cmd, c.done, nil); err != nil {
		return -1, fmt.Errorf("container: start runc: %w", err)
	}
	c.mu.Lock()
	c.cmd = cmd
	c.mu.Unlock()
	select {
	case <-c.done:
		return cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
	}
	kill := func(sig string) {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = exec.CommandContext(kctx, r.opts.Runc, r.args("kill", c.id, sig)...).Run()
		cancel()
	}
	// The ladder; Destroy sends the SIGKILL.
	for _, rung := range []struct {
		sig  string
		wait time.Duration
	}{{"INT", run.Interrupt}, {"TERM", run.Grace}} {
		if rung.wait <= 0 {
			continue
		}
		select {
		case <-run.Force:
			return -1, fmt.Errorf("%w: %w", ErrNoExitCode, ctx.Err())
		default:
		}
		kill(rung.sig)
		t := time.NewTimer(rung.wait)
		select {
		case <-c.done:
		case <-run.Force:
		case <-t.C:
		}
		t.Stop()
		select {
		case <-c.done:
			return -1, fmt.Errorf("%w: %w", ErrNoExitCode, ctx.Err())
		default:
		}
	}
	return -1, fmt.Errorf("%w: %w", ErrNoExitCode, ctx.Err())
}
