package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/container/agent"
	"github.com/birdflock/runner/pkg/workflow"
)

// A Docker action in a remote leg that runs in a pod (Options.podWorkDir):
// the leg has no runc, so the controller runs the action's container
// beside it, in the same pod (an ephemeral container, pkg/kube), pulled
// by the node: a docker:// image as named, a Dockerfile action's image
// built here (BUILDKIT_HOST) and pushed to the scratch registry. The
// job's work directories are volumes of the pod, which the container
// mounts where GitHub mounts them (dockerMounts), so its writes to the
// workspace and to GITHUB_OUTPUT, GITHUB_ENV, … reach the next steps as
// locally. The container joins the leg's process namespace: on a cancel
// or a timeout the leg signals its processes itself (a pod cannot stop
// an ephemeral container).

// runDockerInPod runs d in the leg's pod to its end: its exit code is the
// step's result.
func (jr *legRun) runDockerInPod(ctx context.Context, s *workflow.Step, d *dockerRun, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	r := jr.r
	lc, ok := r.opts.legContainers.(*legContainers)
	if !ok || lc == nil {
		return fmt.Errorf("%s: a Docker action in a pod needs its executor to run containers beside the leg", s.Uses.Raw)
	}
	if d.img != nil {
		return fmt.Errorf("%s: an unpacked image cannot run in a pod", s.Uses.Raw)
	}
	pmaps, mounts, err := jr.dockerMounts(fc)
	if err != nil {
		return err
	}
	// A volume is mounted whole (an ephemeral container may not mount a
	// subPath): event.json by its directory, the pod's _github_workflow.
	for i, m := range mounts {
		if m.Target == "/github/workflow/event.json" {
			mounts[i] = container.Mount{Source: filepath.Dir(m.Source), Target: "/github/workflow", ReadOnly: true}
		}
	}
	spec := container.Spec{
		Ref: d.image, Archive: d.archive, Entrypoint: d.entrypoint, Command: d.args,
		Env: jr.dockerEnv(s, d, env, fc, pmaps), Mounts: mounts, Workdir: "/github/workspace",
	}
	c, err := lc.Setup(ctx, spec)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Uses.Raw, err)
	}
	lcc := c.(*legContainer)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, c.Logs())
	}()
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = c.Destroy(dctx)
	}()
	if err := c.Start(ctx); err != nil {
		if ctx.Err() != nil {
			// Cancelled while it started: if it runs after all, the
			// controller says so, and it is stopped then.
			lcc.abandon()
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w", s.Uses.Raw, err)
	}
	code, err := c.Wait(ctx)
	if err != nil {
		// Cancelled or timed out: its processes are in this leg's
		// process namespace.
		if serr := stopProcesses(lcc.runtime, r.opts.ladder()); serr != nil {
			jr.emitTo(out, "Warning: stopping the action's container: "+serr.Error())
		}
		select {
		case <-copied:
		case <-time.After(5 * time.Second):
		}
		out.Flush()
		return ctx.Err()
	}
	<-copied
	out.Flush()
	if code != 0 {
		return fmt.Errorf("Docker run failed with exit code %d", code)
	}
	return nil
}

// abandon marks a container whose Start gave up: if it runs after all
// (a container-up that comes now or later), its processes are stopped.
func (c *legContainer) abandon() {
	c.lc.mu.Lock()
	c.abandoned = true
	c.lc.mu.Unlock()
	select {
	case fr := <-c.up:
		if fr.Type == frameContainerUp {
			go c.lc.stopLate(fr.Runtime)
		}
	default:
	}
}

// stopLate stops the processes of a container in the leg's pod that runs
// after its step gave up on it.
func (lc *legContainers) stopLate(cid string) {
	if err := stopProcesses(cid, lc.ladder); err != nil && lc.log != nil {
		fmt.Fprintf(lc.log, "Warning: stopping a container that started late: %v\n", err)
	}
}

// stopProcesses stops the processes of the container whose runtime id is
// cid (containerd://HEX: its cgroup's name) by the ladder: SIGINT, then
// SIGTERM to its main process (the one whose parent is outside it, as
// docker passes them on), SIGKILL to all that are left. They are found in
// /proc: the container joined this process's namespace.
func stopProcesses(cid string, ladder stopLadder) error {
	if cid == "" {
		return nil // it never ran
	}
	_, id, _ := strings.Cut(cid, "://")
	if id == "" {
		return errors.New("the container's runtime id is not known: " + cid)
	}
	find := func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
			if err == nil && strings.Contains(string(cg), id) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	var denied error
	kill := func(pid int, sig syscall.Signal) {
		if err := syscall.Kill(pid, sig); errors.Is(err, syscall.EPERM) && denied == nil {
			denied = fmt.Errorf("process %d: %w (the job runs as another user than the action's container)", pid, err)
		}
	}
	// gone closes once no process is left; polling stops with climb.
	gone, climbed := make(chan struct{}), make(chan struct{})
	defer close(climbed)
	go func() {
		for len(find()) > 0 {
			select {
			case <-climbed:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		close(gone)
	}()
	ladder.climb(gone, func(sig syscall.Signal) {
		pids := find()
		in := map[int]bool{}
		for _, pid := range pids {
			in[pid] = true
		}
		for _, pid := range pids {
			if pp, ok := agent.Parent(pid); ok && !in[pp] {
				kill(pid, sig)
			}
		}
	}, func(sig syscall.Signal) {
		for _, pid := range find() {
			kill(pid, sig)
		}
	})
	return denied
}
