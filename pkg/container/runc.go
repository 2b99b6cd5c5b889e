package container

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrMissing is wrapped by errors that say a part needed to run containers
// here is missing (runc, root).
var ErrMissing = errors.New("cannot run containers")

// RuncOptions configures the runc runtime. The zero value works.
type RuncOptions struct {
	// Runc is the runc executable. Default: runc from PATH, /usr/sbin or
	// /usr/bin.
	Runc string
	// Root is runc's state dir (`runc --root`). Default: runc's own
	// (/run/runc), so `runc list` shows runner's containers.
	Root string
	// Dir holds the bundles (rootfs + config.json), one per container,
	// removed by Destroy. Default: DefaultDir().
	Dir string
}

// Runc runs containers with runc, each in its own network namespace.
type Runc struct {
	opts RuncOptions
}

// NewRunc checks that runc can be used here (the binary, root) and removes
// containers left in Dir by a runner that was killed.
func NewRunc(opts RuncOptions) (*Runc, error) {
	if opts.Runc == "" {
		p, err := findRunc()
		if err != nil {
			return nil, err
		}
		opts.Runc = p
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: runc needs root here (running as uid %d)", ErrMissing, os.Geteuid())
	}
	if opts.Dir == "" {
		opts.Dir = DefaultDir()
	}
	r := &Runc{opts: opts}
	r.sweep(context.Background())
	return r, nil
}

// DefaultDir is where bundles go by default: /dev/shm/runner-containers
// when /dev/shm is a tmpfs that allows exec (unpacking hundreds of files is
// many times faster there than on a journaled disk), else
// $TMPDIR/runner-containers.
func DefaultDir() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err == nil && st.Type == unix.TMPFS_MAGIC &&
		st.Flags&(unix.ST_NOEXEC|unix.ST_RDONLY) == 0 && unix.Access("/dev/shm", unix.W_OK) == nil {
		return "/dev/shm/runner-containers"
	}
	return filepath.Join(os.TempDir(), "runner-containers")
}

func findRunc() (string, error) {
	if p, err := exec.LookPath("runc"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no runc in PATH, /usr/sbin or /usr/bin: install Debian's runc (`apt-get install runc`, or `make deps`)", ErrMissing)
}

// Setup unpacks the image into a new bundle and makes the network
// namespace. On error everything made so far is removed.
func (r *Runc) Setup(ctx context.Context, s Spec) (Container, error) {
	if (s.Archive == "") == (s.Ref == "") {
		return nil, errors.New("container: give exactly one of an archive and an image reference")
	}
	if len(s.Mounts) > 0 || s.Workdir != "" || len(s.SecretEnv) > 0 || len(s.SecretArgs) > 0 {
		return nil, errors.New("container: Spec.Mounts, Workdir and SecretEnv are for a runtime beside its caller; runc's job containers take JobSpec")
	}
	c := &runcContainer{r: r, id: newID(), done: make(chan struct{})}
	c.bundle = filepath.Join(r.opts.Dir, c.id)
	ok := false
	defer func() {
		if !ok {
			_ = c.Destroy(context.WithoutCancel(ctx))
		}
	}()
	rootfs := filepath.Join(c.bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if err := writeOwner(c.bundle); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var err error
	var cfg v1.Config
	switch {
	case s.Archive != "":
		cfg, err = unpackArchiveFile(s.Archive, rootfs)
	case s.Images != nil:
		cfg, err = c.overlay(ctx, s, rootfs)
	default:
		cfg, err = unpackRef(ctx, s.Ref, s.Pull, rootfs)
	}
	if err != nil {
		return nil, err
	}
	if err := writeHosts(rootfs); err != nil {
		return nil, err
	}
	if c.netns, err = newNetns(); err != nil {
		return nil, err
	}
	nsPath := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), c.netns.Fd())
	spec, err := runtimeSpec(cfg, s, rootfs, nsPath)
	if err != nil {
		return nil, err
	}
	if s.ExecAgent {
		if c.agentExe, _ = agentBinary(rootfs); c.agentExe != "" && !runnableBy(c.agentExe, spec.Process.User.UID) {
			c.agentExe = "" // e.g. a 0700 binary and an image user other than root
		}
		if c.agentExe != "" {
			spec.Process.Args = append([]string{agentPath, agentArg, "--"}, spec.Process.Args...)
			spec.Mounts = append(spec.Mounts, specs.Mount{Destination: agentPath, Type: "bind", Source: c.agentExe, Options: []string{"rbind", "rprivate", "ro"}})
			c.agentUp = make(chan struct{})
		}
	}
	js, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), js, 0o600); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	c.ports, c.hostPorts, c.wantOwn = s.Ports, s.HostPorts, s.OwnAddress
	if c.ports == nil {
		c.ports = exposedTCP(cfg)
	}
	if c.logR, c.logW, err = os.Pipe(); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// runnableBy says whether uid may read and execute file, by its owner's
// or everyone's permission bits (its group's are not looked at: a
// service then does without the agent).
func runnableBy(file string, uid uint32) bool {
	st, err := os.Stat(file)
	if err != nil {
		return false
	}
	m := st.Mode().Perm()
	switch sys, ok := st.Sys().(*syscall.Stat_t); {
	case uid == 0:
		return m&0o111 != 0
	case ok && sys.Uid == uid:
		return m&0o500 == 0o500
	default:
		return m&0o005 == 0o005
	}
}

// exposedTCP lists the image's EXPOSEd TCP ports.
func exposedTCP(cfg v1.Config) []int {
	var out []int
	for p := range cfg.ExposedPorts {
		n, proto, _ := strings.Cut(p, "/")
		if proto != "" && proto != "tcp" {
			continue
		}
		if v, err := strconv.Atoi(n); err == nil {
			out = append(out, v)
		}
	}
	sort.Ints(out)
	return out
}

// writeHosts gives the container a localhost entry when the image has none.
func writeHosts(rootfs string) error {
	p, err := securejoin.SecureJoin(rootfs, "/etc/hosts")
	if err != nil {
		return err
	}
	if st, err := os.Stat(p); err == nil && st.Size() > 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte("127.0.0.1\tlocalhost\n::1\tlocalhost\n"), 0o644)
}

func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "runner-" + hex.EncodeToString(b)
}

type runcContainer struct {
	r      *Runc
	id     string
	bundle string
	ports  []int
	// hostPorts are the fixed host ports by container port (Spec.HostPorts).
	hostPorts map[int]int
	wantOwn   bool // Spec.OwnAddress

	netns      *os.File
	logR, logW *os.File

	// With Spec.ExecAgent: runner's binary, mounted as pid 1, which
	// starts the image's process. agentUp is closed once it answers or
	// could not (agentErr).
	agentExe string
	agentUp  chan struct{}
	agent    *agentConn
	agentErr error

	mu         sync.Mutex
	cmd        *exec.Cmd
	proxies    map[int]*proxy
	mounted    bool     // rootfs is an overlay over Spec.Images' copy
	ownAddr    string   // the loopback IP of Spec.OwnAddress, once published
	ownProxies []*proxy // the ports published on ownAddr
	logsTaken  bool
	destroyed  bool
	done       chan struct{} // closed when runc run has returned
	exitCode   int
	waitErr    error
	destroyErr error
}

func (c *runcContainer) ID() string { return c.id }

func (c *runcContainer) Done() <-chan struct{} { return c.done }

func (c *runcContainer) Logs() io.Reader {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logsTaken = true
	return &closeOnEOF{f: c.logR}
}

// closeOnEOF closes the pipe when the last writer (the container) is gone.
type closeOnEOF struct{ f *os.File }

func (r *closeOnEOF) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err != nil {
		r.f.Close()
		if !errors.Is(err, io.EOF) {
			err = io.EOF // closed by Destroy: the log ends here
		}
	}
	return n, err
}

func (c *runcContainer) runc(ctx context.Context, args ...string) ([]byte, error) {
	if c.r.opts.Root != "" {
		args = append([]string{"--root", c.r.opts.Root}, args...)
	}
	out, err := exec.CommandContext(ctx, c.r.opts.Runc, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("runc %s: %w: %s", args[0], err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Start publishes the ports, then runs `runc run` in the foreground (so the
// exit code comes back) with stdout and stderr into the log pipe.
func (c *runcContainer) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed || c.cmd != nil {
		return errors.New("container: Start after Destroy or twice")
	}
	c.proxies = map[int]*proxy{}
	for _, port := range c.ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := startProxy(c.hostPorts[port], func(ctx context.Context) (net.Conn, error) {
			return dialInNetns(ctx, c.netns, addr)
		})
		if err != nil {
			return fmt.Errorf("publish port %d: %w", port, err)
		}
		c.proxies[port] = p
	}
	if c.wantOwn {
		if err := c.publishOwn(); err != nil {
			return err
		}
	}
	args := []string{}
	if c.r.opts.Root != "" {
		args = append(args, "--root", c.r.opts.Root)
	}
	// The pid file is written once the container exists: Exec waits for
	// it (waitCreated).
	args = append(args, "run", "--bundle", c.bundle, "--pid-file", filepath.Join(c.bundle, "pid"))
	var agentEnd *os.File
	if c.agentExe != "" {
		mine, theirs, err := socketPair()
		if err != nil {
			return err
		}
		if c.agent, err = newAgentConn(mine); err != nil {
			theirs.Close()
			return err
		}
		agentEnd = theirs
		args = append(args, "--preserve-fds", "1")
	}
	args = append(args, c.id)
	cmd := exec.Command(c.r.opts.Runc, args...)
	cmd.Stdout, cmd.Stderr = c.logW, c.logW
	if agentEnd != nil {
		cmd.ExtraFiles = []*os.File{agentEnd} // fd 3
	}
	err := startRunc(cmd, c.done, func(err error) {
		c.exitCode = cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			c.waitErr = err
		}
	})
	if agentEnd != nil {
		agentEnd.Close()
	}
	c.logW.Close() // the container holds its own copy
	c.logW = nil
	if err != nil {
		return fmt.Errorf("start runc: %w", err)
	}
	c.cmd = cmd
	if c.agent != nil {
		go func() {
			defer close(c.agentUp)
			if err := c.agent.waitReady(context.Background(), c.done); err != nil {
				c.agentErr = fmt.Errorf("runner's agent did not answer in the container: %w", err)
			}
		}()
	}
	return nil
}

// waitCreated waits until runc has created the container (its pid file),
// the container has ended, ctx ends or 5 s have passed. Polling a file
// is cheap; a `runc exec` before the container exists fails after
// costing a runc start-up (≈ 10 ms of CPU here).
func (c *runcContainer) waitCreated(ctx context.Context) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat(filepath.Join(c.bundle, "pid")); err == nil {
			return
		}
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// kill stops the process. Right after Start, runc may not have created the
// container yet ("does not exist"), so kill is retried until runc returns;
// a runc that does not return in 5 s is killed with its process group.
func (c *runcContainer) kill(ctx context.Context) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return
		default:
		}
		kctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _ = c.runc(kctx, "kill", "--all", c.id, "KILL")
		cancel()
		select {
		case <-c.done:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
}

// publishOwn publishes every port at its own number, and at its host
// port too, on a random loopback address in 127.64.0.0/10 where all of
// them are free (another job's service may hold one): up to 20 addresses
// are tried.
func (c *runcContainer) publishOwn() error {
	type pub struct{ at, port int }
	var pubs []pub
	for _, port := range c.ports {
		pubs = append(pubs, pub{port, port})
		if hp := c.proxies[port].ln.Addr().(*net.TCPAddr).Port; hp != port && !slices.Contains(c.ports, hp) {
			pubs = append(pubs, pub{hp, port})
		}
	}
	var last error
	for try := 0; try < 20; try++ {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		ip := fmt.Sprintf("127.%d.%d.%d", 64+b[0]%64, b[1], 1+b[2]%254)
		var ps []*proxy
		for _, pb := range pubs {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(pb.port))
			p, err := startProxyOn(ip, pb.at, func(ctx context.Context) (net.Conn, error) {
				return dialInNetns(ctx, c.netns, addr)
			})
			if err != nil {
				last = err
				break
			}
			ps = append(ps, p)
		}
		if len(ps) == len(pubs) {
			c.ownAddr, c.ownProxies = ip, ps
			return nil
		}
		for _, p := range ps {
			p.Close()
		}
	}
	return fmt.Errorf("publish the ports on a loopback address of the container's own: %w", last)
}

// overlay gets s.Ref from s.Images (pulled and unpacked once per digest)
// and mounts an overlay over that copy on rootfs, its upper layer in the
// bundle, as a job container's root is (jobcontainer.go).
func (c *runcContainer) overlay(ctx context.Context, s Spec, rootfs string) (v1.Config, error) {
	img, err := s.Images.Get(ctx, s.Ref, s.Pull)
	if err != nil {
		return v1.Config{}, err
	}
	upper, work := filepath.Join(c.bundle, "upper"), filepath.Join(c.bundle, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return v1.Config{}, fmt.Errorf("bundle: %w", err)
		}
	}
	opts := "lowerdir=" + img.Rootfs + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", rootfs, "overlay", 0, opts); err != nil {
		return v1.Config{}, fmt.Errorf("overlay mount on %s: %w", rootfs, err)
	}
	c.mounted = true
	return img.Config, nil
}

// OwnAddress is the loopback IP where Spec.OwnAddress published the
// ports, "" without it.
func (c *runcContainer) OwnAddress() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ownAddr
}

func (c *runcContainer) Ports() map[int]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int]string{}
	for port, p := range c.proxies {
		out[port] = p.Addr()
	}
	return out
}

func (c *runcContainer) Wait(ctx context.Context) (int, error) {
	c.mu.Lock()
	started := c.cmd != nil
	c.mu.Unlock()
	if !started {
		return -1, errors.New("container: Wait before Start")
	}
	select {
	case <-c.done:
		return c.exitCode, c.waitErr
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// Destroy kills the process, deletes the runc container, closes the ports
// and the namespace, and removes the bundle.
func (c *runcContainer) Destroy(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return c.destroyErr
	}
	c.destroyed = true
	var errs []error
	if c.agent != nil {
		// The agent, pid 1, ends when its control socket closes, and the
		// container's processes with it.
		c.agent.conn.Close()
	}
	if c.cmd != nil {
		c.kill(ctx)
	}
	// `runc run` deletes the container when it returns; this covers a runc
	// that was killed before it could.
	if _, err := c.runc(ctx, "state", c.id); err == nil {
		if _, err := c.runc(ctx, "delete", "--force", c.id); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range c.proxies {
		p.Close()
	}
	for _, p := range c.ownProxies {
		p.Close()
	}
	for _, f := range []*os.File{c.netns, c.logW} {
		if f != nil {
			f.Close()
		}
	}
	if !c.logsTaken && c.logR != nil {
		c.logR.Close()
	}
	if c.mounted {
		if err := unix.Unmount(filepath.Join(c.bundle, "rootfs"), unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			// Never remove the bundle through a mounted root.
			c.destroyErr = errors.Join(append(errs, fmt.Errorf("unmount %s: %w", filepath.Join(c.bundle, "rootfs"), err))...)
			return c.destroyErr
		}
		c.mounted = false
	}
	if err := os.RemoveAll(c.bundle); err != nil {
		errs = append(errs, fmt.Errorf("remove bundle: %w", err))
	}
	c.destroyErr = errors.Join(errs...)
	return c.destroyErr
}

// startRunc starts cmd (a `runc run`) and returns once it has started;
// exited, when not nil, gets cmd.Wait's error, and done is closed when the
// process is gone (also when it could not start). Pdeathsig makes runc stop
// the container if runner dies; it fires when the starting thread exits,
// so that thread stays locked until runc is gone. A process group keeps
// terminal signals for Destroy to handle.
func startRunc(cmd *exec.Cmd, done chan struct{}, exited func(error)) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(done)
			return
		}
		started <- nil
		err := cmd.Wait()
		if exited != nil {
			exited(err)
		}
		close(done)
	}()
	return <-started
}
