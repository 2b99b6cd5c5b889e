package container

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Network namespaces are per thread: each function below does its work on a
// locked OS thread and moves that thread back to the host namespace before
// unlocking it. If moving back fails, the thread stays locked and exits with
// its goroutine, so no other goroutine ever runs in the wrong namespace.

// newNetns creates a network namespace with only loopback, up. The
// namespace lives as long as the returned file (and any process in it).
func newNetns() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		host, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("netns: %w", err)}
			return
		}
		defer host.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("netns: unshare: %w", err)}
			return
		}
		ns, err := os.Open("/proc/thread-self/ns/net")
		if err == nil {
			if err = loopbackUp(); err != nil {
				ns.Close()
				ns = nil
			}
		}
		if serr := unix.Setns(int(host.Fd()), unix.CLONE_NEWNET); serr != nil {
			if ns != nil {
				ns.Close()
			}
			ch <- result{nil, fmt.Errorf("netns: back to host namespace: %w", serr)}
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		if err != nil {
			err = fmt.Errorf("netns: %w", err)
		}
		ch <- result{ns, err}
	}()
	r := <-ch
	return r.f, r.err
}

// loopbackUp sets IFF_UP on "lo" in the calling thread's namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// dialInNetns opens a TCP connection to addr from inside ns. A socket keeps
// the namespace it was created in, so only the dial needs the thread there.
func dialInNetns(ctx context.Context, ns *os.File, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// Come back to this thread's own namespace, not to one opened
		// through /proc/self: that names the main thread's, and the main
		// thread may be inside a container's namespace for a moment (a
		// locked goroutine can run on it), which once left a thread in a
		// container's namespace and a later listener unreachable.
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("netns: %w", err)}
			return
		}
		defer own.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("enter container netns: %w", err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
			if c != nil {
				c.Close()
			}
			ch <- result{nil, fmt.Errorf("leave container netns: %w", serr)}
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
