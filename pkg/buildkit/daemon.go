package buildkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/moby/buildkit/client"
	"golang.org/x/sys/unix"
)

// ErrMissing is wrapped by errors that say a part needed to run buildkitd
// here is missing (binary, runc, root).
var ErrMissing = errors.New("cannot start buildkitd")

// DaemonOptions configures a runner-managed buildkitd. The zero value of
// every field but Root works.
type DaemonOptions struct {
	// Root is buildkitd's state dir; its build cache stays there between runs.
	Root string
	// Binary is the buildkitd executable. Default: FindBuildkitd().
	Binary string
	// Runc is the OCI runtime for RUN steps. Default: runc from PATH,
	// /usr/sbin or /usr/bin.
	Runc string
	// Mirrors are written into buildkitd.toml. Default: none, or Docker Hub
	// through the embedded registry when EmbeddedRegistry is set.
	Mirrors registry.Mirrors
	// EmbeddedRegistry is runner's state dir. When set and Mirrors is
	// empty, Docker Hub pulls go first to runner's embedded registry there
	// (where `make base-images` puts alpine and nginx), which is started for
	// as long as the daemon runs unless one is serving already. Default "".
	EmbeddedRegistry string
	// StartTimeout bounds the wait for the daemon to answer. Default 30s.
	StartTimeout time.Duration
	// Log receives a line when the start has to wait for another runner
	// using Root. Default: discarded.
	Log io.Writer
}

// Daemon is a buildkitd process started by runner. Stop it with Stop.
type Daemon struct {
	addr    string
	logPath string
	lock    *os.File
	root    string
	runc    string
	mirrors registry.Mirrors
	release func() error // stops the embedded registry, if started for us
	proc    *os.Process
	done    chan struct{} // closed when the process has exited
	exitErr error         // set before done is closed
}

// FindBuildkitd looks for buildkitd in $RUNNER_BUILDKITD, beside the running
// executable, in ./bin, then in PATH.
func FindBuildkitd() (string, error) {
	var tried []string
	if p := os.Getenv("RUNNER_BUILDKITD"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%w: RUNNER_BUILDKITD=%s is not an executable file", ErrMissing, p)
		}
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		tried = append(tried, filepath.Join(filepath.Dir(exe), "buildkitd"))
	}
	tried = append(tried, filepath.Join("bin", "buildkitd"))
	for _, p := range tried {
		if isExecutable(p) {
			return filepath.Abs(p)
		}
	}
	if p, err := exec.LookPath("buildkitd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: no buildkitd binary (looked at %v and in PATH): run `make bin/buildkitd`, set RUNNER_BUILDKITD, or set BUILDKIT_HOST to use another buildkitd", ErrMissing, tried)
}

// FindRunc looks for runc in PATH, /usr/sbin and /usr/bin.
func FindRunc() (string, error) {
	if p, err := exec.LookPath("runc"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"} {
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no runc in PATH, /usr/sbin or /usr/bin: install Debian's runc (`apt-get install runc`, or `make deps`), or set BUILDKIT_HOST", ErrMissing)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// StartDaemon starts buildkitd with a generated config and waits until it
// lists its workers. Only one daemon can use a Root at a time; a second one
// (another runner process) waits for the first to stop, until ctx ends.
func StartDaemon(ctx context.Context, opts DaemonOptions) (*Daemon, error) {
	if opts.Root == "" {
		return nil, errors.New("buildkitd: no state dir")
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: buildkitd needs root here (running as uid %d): run as root or set BUILDKIT_HOST", ErrMissing, os.Geteuid())
	}
	var err error
	if opts.Binary == "" {
		if opts.Binary, err = FindBuildkitd(); err != nil {
			return nil, err
		}
	} else if !isExecutable(opts.Binary) {
		return nil, fmt.Errorf("%w: buildkitd binary %s is missing or not executable: run `make bin/buildkitd`", ErrMissing, opts.Binary)
	}
	if opts.Runc == "" {
		if opts.Runc, err = FindRunc(); err != nil {
			return nil, err
		}
	} else if !isExecutable(opts.Runc) {
		return nil, fmt.Errorf("%w: runc %s is missing or not executable: install Debian's runc (`make deps`)", ErrMissing, opts.Runc)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("buildkitd state dir: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("buildkitd state dir: %w", err)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	lock, err := lockDir(ctx, filepath.Join(root, "daemon.lock"), opts.Log)
	if err != nil {
		return nil, err
	}
	d := &Daemon{lock: lock, root: root, runc: opts.Runc, logPath: filepath.Join(root, "buildkitd.log"),
		done: make(chan struct{}), mirrors: opts.Mirrors}
	cleanupState(root, opts.Runc) // after a crash of an earlier daemon
	if d.mirrors.Empty() && opts.EmbeddedRegistry != "" {
		addr, release, err := registry.Embedded(ctx, opts.EmbeddedRegistry)
		if err != nil {
			d.unlock()
			return nil, fmt.Errorf("embedded registry for the docker.io mirror: %w", err)
		}
		d.mirrors, d.release = DefaultMirrors(addr), release
	}
	sock := socketPath(root)
	d.addr = "unix://" + sock
	_ = os.Remove(sock) // left by a killed daemon; we hold the lock
	cfg := filepath.Join(root, "buildkitd.toml")
	if err := os.WriteFile(cfg, []byte(configTOML(root, sock, opts.Runc, d.mirrors)), 0o600); err != nil {
		d.unlock()
		return nil, fmt.Errorf("buildkitd config: %w", err)
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		d.unlock()
		return nil, fmt.Errorf("buildkitd log: %w", err)
	}
	cmd := exec.Command(opts.Binary, "--config", cfg, "--root", root, "--addr", d.addr,
		"--oci-worker=true", "--containerd-worker=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(opts.Runc)+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Pdeathsig kills buildkitd if runner dies; it fires when the starting
	// thread exits, so that thread stays locked until buildkitd is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		d.proc = cmd.Process
		started <- nil
		d.exitErr = cmd.Wait()
		_ = logf.Close()
		cleanupState(root, opts.Runc) // nothing to do after a clean exit
		close(d.done)
	}()
	if err := <-started; err != nil {
		_ = logf.Close()
		d.unlock()
		return nil, fmt.Errorf("start buildkitd: %w", err)
	}
	if err := d.waitReady(ctx, opts.StartTimeout); err != nil {
		_ = d.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return d, nil
}

// socketPath keeps the unix socket under the 108-byte limit.
func socketPath(root string) string {
	p := filepath.Join(root, "buildkitd.sock")
	if len(p) < 100 {
		return p
	}
	h := sha256.Sum256([]byte(root))
	return filepath.Join(os.TempDir(), "runner-buildkitd-"+hex.EncodeToString(h[:6])+".sock")
}

func (d *Daemon) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-d.done:
			return fmt.Errorf("buildkitd exited while starting (%v): %s", d.exitErr, d.logTail())
		default:
		}
		if last = ping(ctx, d.addr); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("buildkitd did not answer within %s: %v; %s", timeout, last, d.logTail())
		case <-d.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ping succeeds when the daemon at addr lists at least one worker.
func ping(ctx context.Context, addr string) error {
	c, err := client.New(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ws, err := c.ListWorkers(pctx)
	if err != nil {
		return err
	}
	if len(ws) == 0 {
		return errors.New("no workers")
	}
	return nil
}

// Addr is the daemon's address for client.New.
func (d *Daemon) Addr() string { return d.addr }

// Mirrors are the registry mirrors the daemon was configured with.
func (d *Daemon) Mirrors() registry.Mirrors { return d.mirrors }

// Done is closed when the process has exited, expectedly or not.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Stop asks buildkitd to shut down (SIGTERM), kills it after ctx ends or
// 15 s, and releases the state dir. Safe to call more than once.
func (d *Daemon) Stop(ctx context.Context) error {
	defer d.unlock()
	select {
	case <-d.done:
		return nil
	default:
	}
	_ = d.proc.Signal(syscall.SIGTERM)
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
	case <-t.C:
	}
	_ = syscall.Kill(-d.proc.Pid, syscall.SIGKILL)
	<-d.done
	return fmt.Errorf("buildkitd did not stop on SIGTERM; killed")
}

func (d *Daemon) unlock() {
	if d.release != nil {
		_ = d.release()
		d.release = nil
	}
	if d.lock != nil {
		_ = d.lock.Close() // closing drops the flock
		d.lock = nil
	}
}

// logTail returns the end of buildkitd's log for error messages.
func (d *Daemon) logTail() string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return "no buildkitd log"
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "buildkitd log (" + d.logPath + "):\n" + string(b)
}

// lockDir takes an exclusive flock, polling until ctx ends.
func lockDir(ctx context.Context, path string, log io.Writer) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("buildkitd lock: %w", err)
	}
	for waited := false; ; waited = true {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("buildkitd lock %s: %w", path, err)
		}
		if !waited {
			fmt.Fprintf(log, "waiting for another runner's buildkitd on %s to stop (or set BUILDKIT_HOST)\n", filepath.Dir(path))
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("buildkitd state dir %s is used by another runner: %w", filepath.Dir(path), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
