package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/birdflock/runner/pkg/container/agent"
)

// A job container (GitHub's `container:`) is one long-lived container per
// job that the job's steps are exec'd into:
//
//   - its root is an overlay: the image unpacked once in an ImageCache
//     (shared, never written) under a per-job upper directory in the
//     bundle, so a step may install packages without touching the cache or
//     other jobs;
//   - its process is runner's agent (agent.go), which starts the steps'
//     processes on request; when runner's binary cannot run in the image
//     (dynamically linked, and the image lacks its libraries) or the
//     agent does not start, `tail -f /dev/null` (as GitHub's runner starts
//     it), there only to hold the namespaces, and each process is a
//     `runc exec` (ExecCommand);
//   - it shares the host's network namespace, as a job on the host does:
//     what a step serves on a port is on the host's port, and the host's
//     loopback services are reachable;
//   - Mounts bind host directories (the workspace, RUNNER_TEMP…).
//
// The overlay is mounted in the host's mount namespace at bundle/rootfs;
// Destroy unmounts it, and the sweep of a later Runc unmounts the overlay
// of a runner that was killed.

// Mount binds a host file or directory into a job container.
type Mount struct {
	Source   string // host path
	Target   string // path in the container
	ReadOnly bool
}

// JobSpec describes a job container.
type JobSpec struct {
	Image CachedImage // from ImageCache.Get
	// Env entries (KEY=VALUE) are laid over the image's Env; the
	// container's process and every Exec start from the result.
	Env []string
	// User replaces the image's User ("name", "uid", "uid:gid",
	// "name:group"), as `docker create --user`.
	User string
	// Workdir replaces the image's WorkingDir for the container's own
	// process (Exec gives its own).
	Workdir  string
	Hostname string // default: the container's id
	Mounts   []Mount
	// Hosts are added to the container's /etc/hosts: name → address
	// (e.g. the job's services by label → 127.0.0.1).
	Hosts  map[string]string
	Limits Limits
	// NoAgent keeps the container alive with `tail -f /dev/null` and
	// leaves every process to `runc exec` (ExecCommand), as when runner's
	// agent cannot run in the image.
	NoAgent bool
}

// JobContainer is a running job container.
type JobContainer struct {
	r      *Runc
	id     string
	bundle string
	rootfs string // the overlay, mounted on the host
	env    []string
	user   specs.User
	proc   specs.Process // the template of every Exec

	agentExe string     // runner's binary, mounted as the agent; "" for tail
	agentWhy string     // why there is no agent
	agent    *agentConn // set by start; nil without an agent

	mu        sync.Mutex
	cmd       *exec.Cmd
	mounted   bool
	destroyed bool
	done      chan struct{}
	log       bytes.Buffer // the keep-alive's output, for errors
}

// StartJob makes the overlay root, starts the container and waits until
// runc reports it running. On error everything made so far is removed.
func (r *Runc) StartJob(ctx context.Context, s JobSpec) (*JobContainer, error) {
	c, err := r.prepareJob(ctx, s, nil, !s.NoAgent)
	if err != nil {
		return nil, err
	}
	err = c.start(ctx)
	if err != nil && c.agentExe != "" && ctx.Err() == nil {
		// The agent did not start: the keep-alive and runc exec instead.
		why := fmt.Sprintf("runner's agent did not start in the container: %v", err)
		_ = c.Destroy(context.WithoutCancel(ctx))
		if c, err = r.prepareJob(ctx, s, nil, false); err != nil {
			return nil, err
		}
		c.agentWhy = why
		err = c.start(ctx)
	}
	if err != nil {
		_ = c.Destroy(context.WithoutCancel(ctx))
		return nil, err
	}
	return c, nil
}

// prepareJob makes the bundle of a job container: the overlay root, the
// hosts file and config.json. Its process is run's when run is not nil,
// else the agent (when withAgent and runner's binary can run in the
// image) or the keep-alive. On error everything made so far is removed.
func (r *Runc) prepareJob(ctx context.Context, s JobSpec, run *RunSpec, withAgent bool) (*JobContainer, error) {
	c := &JobContainer{r: r, id: newID(), done: make(chan struct{})}
	c.bundle = filepath.Join(r.opts.Dir, c.id)
	c.rootfs = filepath.Join(c.bundle, "rootfs")
	ok := false
	defer func() {
		if !ok {
			_ = c.Destroy(context.WithoutCancel(ctx))
		}
	}()
	upper, work := filepath.Join(c.bundle, "upper"), filepath.Join(c.bundle, "work")
	for _, d := range []string{c.rootfs, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
	}
	if err := writeOwner(c.bundle); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	opts := "lowerdir=" + s.Image.Rootfs + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", c.rootfs, "overlay", 0, opts); err != nil {
		return nil, fmt.Errorf("job container: overlay mount on %s: %w", c.rootfs, err)
	}
	c.mounted = true
	cfg := s.Image.Config
	if s.User != "" {
		cfg.User = s.User
	}
	if s.Workdir != "" {
		cfg.WorkingDir = s.Workdir
	}
	env := mergeEnv(cfg.Env, s.Env)
	pathVar := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathVar = v
		}
	}
	proc := Spec{Command: []string{"tail", "-f", "/dev/null"}, Env: s.Env, Limits: s.Limits}
	mounts := s.Mounts
	if run != nil {
		proc = Spec{Entrypoint: run.Entrypoint, Command: run.Args, Env: s.Env, Limits: s.Limits}
	} else {
		cfg.Entrypoint = nil
		if withAgent {
			c.agentExe, c.agentWhy = agentBinary(c.rootfs)
		} else {
			c.agentWhy = "disabled"
		}
		if c.agentExe != "" {
			proc.Command = []string{agentPath, agentArg}
			mounts = append(slices.Clip(mounts), Mount{Source: c.agentExe, Target: agentPath, ReadOnly: true})
		} else if LookPath(c.rootfs, "tail", pathVar) == "" {
			return nil, fmt.Errorf("job container: %s, and the image has no tail on its PATH: runner keeps a job container alive with `tail -f /dev/null`, as GitHub's runner does", c.agentWhy)
		}
	}
	if err := writeHosts(c.rootfs); err != nil {
		return nil, err
	}
	if err := addHosts(c.rootfs, s.Hosts); err != nil {
		return nil, err
	}
	spec, err := runtimeSpec(cfg, proc, c.rootfs, "")
	if err != nil {
		return nil, fmt.Errorf("job container: %w", err)
	}
	// The host's network, as a job on the host has: no namespace, and the
	// host's resolver configuration.
	spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
		return n.Type == specs.NetworkNamespace
	})
	spec.Hostname = s.Hostname
	if spec.Hostname == "" {
		spec.Hostname = c.id
	}
	if _, err := os.Stat("/etc/resolv.conf"); err == nil {
		mounts = append([]Mount{{Source: "/etc/resolv.conf", Target: "/etc/resolv.conf", ReadOnly: true}}, mounts...)
	}
	for _, m := range mounts {
		o := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			o = append(o, "ro")
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: o})
	}
	c.env, c.user, c.proc = spec.Process.Env, spec.Process.User, *spec.Process
	js, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), js, 0o600); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	ok = true
	return c, nil
}

// start runs `runc run` in the foreground (so that its end is seen) and
// waits until the container runs.
// Called before c is shared: no lock. The log is read only once done is
// closed (exec has copied everything by then).
func (c *JobContainer) start(ctx context.Context) error {
	args := []string{"run", "--bundle", c.bundle, c.id}
	var agentEnd *os.File
	if c.agentExe != "" {
		mine, theirs, err := socketPair()
		if err != nil {
			return fmt.Errorf("job container: %w", err)
		}
		if c.agent, err = newAgentConn(mine); err != nil {
			theirs.Close()
			return fmt.Errorf("job container: %w", err)
		}
		agentEnd = theirs
		args = []string{"run", "--preserve-fds", "1", "--bundle", c.bundle, c.id}
	}
	cmd := exec.Command(c.r.opts.Runc, c.r.args(args...)...)
	cmd.Stdout, cmd.Stderr = &c.log, &c.log
	if agentEnd != nil {
		cmd.ExtraFiles = []*os.File{agentEnd} // fd 3
	}
	err := startRunc(cmd, c.done, nil)
	if agentEnd != nil {
		agentEnd.Close()
	}
	if err != nil {
		return fmt.Errorf("job container: start runc: %w", err)
	}
	c.cmd = cmd
	if c.agent != nil {
		// The agent's first byte says it runs: the container does.
		if err := c.agent.waitReady(ctx, c.done); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(c.log.String()))
		}
		return nil
	}
	for {
		out, err := exec.CommandContext(ctx, c.r.opts.Runc, c.r.args("state", c.id)...).Output()
		if err == nil {
			var st struct{ Status string }
			if json.Unmarshal(out, &st) == nil && st.Status == "running" {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("job container: the container stopped at once: %s", strings.TrimSpace(c.log.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (r *Runc) args(a ...string) []string {
	if r.opts.Root != "" {
		return append([]string{"--root", r.opts.Root}, a...)
	}
	return a
}

// ID names the container in runc (`runc list`).
func (c *JobContainer) ID() string { return c.id }

// Rootfs is the container's root as seen from the host (the overlay).
func (c *JobContainer) Rootfs() string { return c.rootfs }

// Env is the environment of the container: the image's with JobSpec.Env
// over it, and HOME.
func (c *JobContainer) Env() []string { return slices.Clone(c.env) }

// Done is closed when the container's process has ended.
func (c *JobContainer) Done() <-chan struct{} { return c.done }

// ExecCommand is the runc command that runs args in the container with env
// (complete: nothing is added) in cwd, as the container's user. The
// process's spec goes to a file in the bundle (its environment may hold
// secrets: not on a command line); cleanup removes it after the command
// ends. The command's own process group and Pdeathsig are set: a caller
// that kills the group stops runc, which passes SIGTERM on to the process;
// KillExec then ends what is left of it.
func (c *JobContainer) ExecCommand(args, env []string, cwd string) (cmd *exec.Cmd, pidFile string, cleanup func(), err error) {
	if len(args) == 0 {
		return nil, "", nil, errors.New("job container: exec of nothing")
	}
	c.mu.Lock()
	destroyed := c.destroyed
	c.mu.Unlock()
	if destroyed {
		return nil, "", nil, errors.New("job container: exec after Destroy")
	}
	p := c.proc
	p.Args, p.Env, p.Cwd = args, env, cwd
	js, err := json.Marshal(p)
	if err != nil {
		return nil, "", nil, err
	}
	name := filepath.Join(c.bundle, "exec-"+newID())
	if err := os.WriteFile(name+".json", js, 0o600); err != nil {
		return nil, "", nil, fmt.Errorf("job container: %w", err)
	}
	cleanup = func() { os.Remove(name + ".json"); os.Remove(name + ".pid") }
	cmd = exec.Command(c.r.opts.Runc, c.r.args("exec", "--process", name+".json", "--pid-file", name+".pid", c.id)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	return cmd, name + ".pid", cleanup, nil
}

// ExecTree is the process an ExecCommand started (its pid file) and every
// process seen under it: a child its end orphaned is still known, so that
// it can be killed too (runc exec waits for the children that hold its
// output).
type ExecTree struct {
	pidFile string
	mu      sync.Mutex
	seen    map[int]string // pid → its start time, so that a reused pid is not taken for it
}

// NewExecTree follows the process of pidFile.
func NewExecTree(pidFile string) *ExecTree {
	return &ExecTree{pidFile: pidFile, seen: map[int]string{}}
}

// pid is the process's pid, 0 before runc wrote it.
func (t *ExecTree) pid() int {
	b, err := os.ReadFile(t.pidFile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 1 {
		return 0
	}
	return pid
}

// look adds the process and those under it now to the ones seen.
func (t *ExecTree) look() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pid := t.pid(); pid > 0 {
		for _, p := range append(agent.Descendants(pid), pid) {
			if f := agent.Stat(p); f != nil {
				t.seen[p] = f[19]
			}
		}
	}
}

// Signal sends sig to the process alone.
func (t *ExecTree) Signal(sig syscall.Signal) {
	t.look()
	if pid := t.pid(); pid > 0 {
		_ = syscall.Kill(pid, sig)
	}
}

// Ended reports whether the process has ended (gone, or a zombie).
func (t *ExecTree) Ended() bool {
	pid := t.pid()
	if pid == 0 {
		return false
	}
	f := agent.Stat(pid)
	return f == nil || f[0] == "Z"
}

// Kill sends SIGKILL to the process and to every process seen under it
// that still runs (the same start time).
func (t *ExecTree) Kill() {
	t.look()
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, start := range t.seen {
		if f := agent.Stat(p); f != nil && f[19] == start {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// HostPath is where path (absolute, in the container, outside the mounts)
// is on the host: inside the overlay, symlinks resolved inside it.
func (c *JobContainer) HostPath(path string) (string, error) {
	return securejoin.SecureJoin(c.rootfs, path)
}

// Destroy kills the container's processes, deletes it in runc, unmounts
// the overlay and removes the bundle (the upper layer with it).
func (c *JobContainer) Destroy(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil
	}
	c.destroyed = true
	var errs []error
	if c.agent != nil {
		// The agent, pid 1, ends when its control socket closes, and
		// the container's other processes with it.
		c.agent.conn.Close()
	}
	if c.cmd != nil {
		deadline := time.Now().Add(5 * time.Second)
	kill:
		for time.Now().Before(deadline) {
			kctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_ = exec.CommandContext(kctx, c.r.opts.Runc, c.r.args("kill", "--all", c.id, "KILL")...).Run()
			cancel()
			select {
			case <-c.done:
				break kill
			case <-time.After(20 * time.Millisecond):
			}
		}
		select {
		case <-c.done:
		default:
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
	}
	if err := exec.CommandContext(ctx, c.r.opts.Runc, c.r.args("state", c.id)...).Run(); err == nil {
		if out, err := exec.CommandContext(ctx, c.r.opts.Runc, c.r.args("delete", "--force", c.id)...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("runc delete: %w: %s", err, bytes.TrimSpace(out)))
		}
	}
	if c.mounted {
		if err := unix.Unmount(c.rootfs, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			// Never remove the bundle through a mounted root.
			return errors.Join(append(errs, fmt.Errorf("unmount %s: %w", c.rootfs, err))...)
		}
		c.mounted = false
	}
	if err := os.RemoveAll(c.bundle); err != nil {
		errs = append(errs, fmt.Errorf("remove bundle: %w", err))
	}
	return errors.Join(errs...)
}

// unmountRootfs unmounts bundle/rootfs when something (a job container's
// overlay) is mounted there, and reports whether nothing is left mounted.
func unmountRootfs(bundle string) bool {
	root := filepath.Join(bundle, "rootfs")
	err := unix.Unmount(root, unix.MNT_DETACH)
	return err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT)
}

// User is the uid and gid the container's processes run as.
func (c *JobContainer) User() (uid, gid int) { return int(c.user.UID), int(c.user.GID) }

// addHosts appends "ADDRESS NAME" lines to the rootfs's /etc/hosts (in
// the overlay's upper layer).
func addHosts(rootfs string, hosts map[string]string) error {
	if len(hosts) == 0 {
		return nil
	}
	p, err := securejoin.SecureJoin(rootfs, "/etc/hosts")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(hosts[n] + "\t" + n + "\n")
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("job container: /etc/hosts: %w", err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
